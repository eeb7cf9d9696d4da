//! The real PHP as the oracle for `microcache_core::php`: what names PHP sees in a query string
//! and a `Cookie` header, compared with what the crate makes of them.
//!
//! Shared by the `php_names` example (`make test-php-names`) and the `php_names` fuzz target.
//! Queries go to `parse_str()` in a persistent `php` CLI process; every case is also sent to a
//! private PHP-FPM through FastCGI, whose `$_COOKIE` is the real SAPI cookie parse and whose
//! `$_GET` must agree with `parse_str()`. Both run with `-n` (no php.ini) and with limits raised
//! (`max_input_vars`, `max_input_nesting_level`) so that only the naming rules are compared.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use microcache_core::query::MAX_ARGS_LIMIT;
use microcache_core::{normalise, php, ArgRules, GlobSet, RequestFacts, SkipReason, SkipRules};

/// PHP settings that would drop names for reasons other than their spelling.
const LIMITS: [&str; 2] = ["max_input_vars=100000", "max_input_nesting_level=100000"];

/// One request's names: a query string and a `Cookie` header value.
#[derive(Clone, Debug, Default)]
pub struct Case {
    pub query: Vec<u8>,
    pub cookie: Vec<u8>,
}

/// A place where the crate and PHP read a name differently.
#[derive(Debug)]
pub struct Mismatch {
    pub kind: &'static str,
    pub case: Case,
    pub detail: String,
}

/// Top-level keys of a PHP array, in PHP's order.
type Names = Vec<Vec<u8>>;

/// What `parse_str()` made of a query: its top-level keys and a digest of the whole array.
struct Parsed {
    keys: Names,
    digest: String,
}

/// What a PHP-FPM request saw.
struct Request {
    get: Names,
    cookie: Names,
}

/// A `php` CLI process and a PHP-FPM, both ours, both ended when this is dropped (or when the
/// process that owns it exits: each ends when its standard input closes).
pub struct Php {
    cli: Child,
    cli_in: Option<ChildStdin>,
    cli_out: BufReader<ChildStdout>,
    fpm: UnixStream,
    /// A shell that started PHP-FPM and stops it, by its PID, when its input closes.
    fpm_guard: Child,
    fpm_guard_in: Option<ChildStdin>,
    script: PathBuf,
}

impl Php {
    /// Starts PHP on `script` (`names.php`); the PHP-FPM binary is `$PHP_FPM` or `php-fpm8.2`,
    /// the CLI `$PHP` or `php`.
    pub fn start(script: &Path) -> io::Result<Php> {
        let script = script.canonicalize()?;
        let mut cli = Command::new(std::env::var("PHP").unwrap_or("php".into()))
            .args(["-n", "-d", "display_errors=stderr"])
            .args(LIMITS.iter().flat_map(|l| ["-d", l]))
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let cli_in = cli.stdin.take();
        let cli_out =
            BufReader::new(cli.stdout.take().ok_or_else(|| io::Error::other("no stdout"))?);

        let dir = std::env::temp_dir().join(format!("microcache-php-names.{}", std::process::id()));
        fs::create_dir_all(&dir)?;
        let socket = dir.join("php-fpm.sock");
        let root = fs::read_to_string("/proc/self/status")?
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .is_some_and(|uid| uid.split_whitespace().next() == Some("0"));
        let mut conf = format!(
            "[global]\nerror_log = {log}\ndaemonize = no\n\n[php-names]\nlisten = {sock}\n\
             pm = static\npm.max_children = 1\nphp_admin_value[display_errors] = stderr\n",
            log = dir.join("php-fpm.log").display(),
            sock = socket.display(),
        );
        for limit in LIMITS {
            let (name, value) = limit.split_once('=').unwrap_or_default();
            writeln!(conf, "php_admin_value[{name}] = {value}").ok();
        }
        if root {
            conf.push_str("user = root\ngroup = root\n");
        }
        fs::write(dir.join("php-fpm.conf"), conf)?;
        let mut fpm_guard = Command::new("sh")
            .args([
                "-c",
                r#""$1" -n -F $3 -y "$2/php-fpm.conf" </dev/null >>"$2/php-fpm.log" 2>&1 &
                fpm=$!
                read -r _
                kill -QUIT "$fpm"; wait "$fpm"; rm -rf "$2""#,
                "sh",
            ])
            .arg(std::env::var("PHP_FPM").unwrap_or("php-fpm8.2".into()))
            .arg(&dir)
            .arg(if root { "-R" } else { "" })
            .stdin(Stdio::piped())
            .spawn()?;
        let fpm_guard_in = fpm_guard.stdin.take();
        let started = Instant::now();
        let fpm = loop {
            match UnixStream::connect(&socket) {
                Ok(stream) => break stream,
                Err(_) if started.elapsed() < Duration::from_secs(10) => {
                    sleep(Duration::from_millis(50))
                }
                Err(e) => {
                    let log = fs::read_to_string(dir.join("php-fpm.log")).unwrap_or_default();
                    return Err(io::Error::other(format!("PHP-FPM did not start: {e}\n{log}")));
                }
            }
        };
        Ok(Php { cli, cli_in, cli_out, fpm, fpm_guard, fpm_guard_in, script })
    }

    /// `php --version`, first line, as the CLI reports it.
    pub fn version() -> String {
        Command::new(std::env::var("PHP").unwrap_or("php".into()))
            .args(["-n", "-r", "echo PHP_VERSION;"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    fn parse_str(&mut self, query: &[u8]) -> io::Result<Parsed> {
        let cli_in = self.cli_in.as_mut().ok_or_else(|| io::Error::other("php has ended"))?;
        writeln!(cli_in, "{}", hex(query))?;
        cli_in.flush()?;
        let mut line = String::new();
        self.cli_out.read_line(&mut line)?;
        let (keys, digest) = line
            .trim_end()
            .split_once('|')
            .ok_or_else(|| io::Error::other(format!("unexpected answer from php: {line:?}")))?;
        Ok(Parsed { keys: unhex_list(keys)?, digest: digest.to_owned() })
    }

    /// The keys of `$_GET` and `$_COOKIE` for one FastCGI request.
    fn request(&mut self, query: &[u8], cookie: &[u8]) -> io::Result<Request> {
        const BEGIN_REQUEST: u8 = 1;
        const END_REQUEST: u8 = 3;
        const PARAMS: u8 = 4;
        const STDIN: u8 = 5;
        const STDOUT: u8 = 6;
        const RESPONDER_KEEP_CONN: [u8; 8] = [0, 1, 1, 0, 0, 0, 0, 0];

        let mut params = Vec::new();
        for (name, value) in [
            (&b"SCRIPT_FILENAME"[..], self.script.as_os_str().as_encoded_bytes()),
            (b"REQUEST_METHOD", b"GET"),
            (b"QUERY_STRING", query),
            (b"HTTP_COOKIE", cookie),
        ] {
            for len in [name.len(), value.len()] {
                match u8::try_from(len) {
                    Ok(short) if short < 0x80 => params.push(short),
                    _ => params.extend((len as u32 | 0x8000_0000).to_be_bytes()),
                }
            }
            params.extend_from_slice(name);
            params.extend_from_slice(value);
        }
        let mut message = Vec::new();
        let mut record = |kind: u8, content: &[u8]| {
            message.extend([1, kind, 0, 1]);
            message.extend((content.len() as u16).to_be_bytes());
            message.extend([0, 0]);
            message.extend_from_slice(content);
        };
        record(BEGIN_REQUEST, &RESPONDER_KEEP_CONN);
        for chunk in params.chunks(0xffff) {
            record(PARAMS, chunk);
        }
        record(PARAMS, &[]);
        record(STDIN, &[]);
        self.fpm.write_all(&message)?;

        let mut output = Vec::new();
        loop {
            let mut header = [0u8; 8];
            self.fpm.read_exact(&mut header)?;
            let len = usize::from(u16::from_be_bytes([header[4], header[5]]));
            let mut content = vec![0; len + usize::from(header[6])];
            self.fpm.read_exact(&mut content)?;
            match header[1] {
                STDOUT => output.extend_from_slice(&content[..len]),
                END_REQUEST => break,
                _ => {}
            }
        }
        let body = output.split(|&c| c == b'\n').skip_while(|l| l != b"\r").skip(1);
        let lines: Vec<&[u8]> = body.collect();
        match lines[..] {
            [get, cookie, ..] => Ok(Request {
                get: unhex_list(&String::from_utf8_lossy(get))?,
                cookie: unhex_list(&String::from_utf8_lossy(cookie))?,
            }),
            _ => Err(io::Error::other(format!(
                "unexpected answer from PHP-FPM: {:?}",
                String::from_utf8_lossy(&output)
            ))),
        }
    }
}

impl Drop for Php {
    fn drop(&mut self) {
        // Both end when their input closes.
        drop(self.fpm_guard_in.take());
        drop(self.cli_in.take());
        let _ = self.fpm_guard.wait();
        let _ = self.cli.wait();
    }
}

/// Compares the crate's view of `case` with PHP's; each difference is a [`Mismatch`].
///
/// Exact names: the crate's PHP forms are PHP's keys. Lists: each of PHP's names, as a
/// `microcache_bypass_args` or `microcache_bypass_cookies` list, makes the request skip; all of
/// them as `microcache_strip_args` leave PHP nothing; as `microcache_keep_args` they leave PHP's
/// array as it was, and so does `microcache_sort_args on`.
pub fn check(php: &mut Php, case: &Case) -> io::Result<Vec<Mismatch>> {
    let mut found = Vec::new();
    let mut report = |kind, detail: String| {
        found.push(Mismatch { kind, case: case.clone(), detail });
    };
    let query = &case.query[..];
    let parsed = php.parse_str(query)?;

    let ours = crate_query_names(query);
    if sorted(&ours) != sorted(&parsed.keys) {
        report(
            "query names",
            format!("PHP {}, crate {}", show_list(&parsed.keys), show_list(&ours)),
        );
    }
    let none = GlobSet::default();
    let plain =
        ArgRules { strip: GlobSet::default(), max_args: MAX_ARGS_LIMIT, ..ArgRules::default() };
    for name in &parsed.keys {
        if let Some((_, false)) = normalised(query, &plain, &GlobSet::new([name])) {
            report("bypass_args", format!("{} does not match", show(name)));
        }
    }
    let strip = ArgRules { strip: GlobSet::new(&parsed.keys), ..plain.clone() };
    if let Some((args, _)) = normalised(query, &strip, &none) {
        let left = php.parse_str(&args)?;
        if !left.keys.is_empty() {
            report(
                "strip_args",
                format!("PHP still sees {} in {}", show_list(&left.keys), show(&args)),
            );
        }
    }
    let keep = ArgRules { keep: Some(GlobSet::new(&parsed.keys)), ..plain.clone() };
    let sort = ArgRules { sort: true, ..plain };
    for (kind, rules) in [("keep_args", keep), ("sort_args", sort)] {
        if let Some((args, _)) = normalised(query, &rules, &none) {
            if php.parse_str(&args)?.digest != parsed.digest {
                report(kind, format!("PHP reads {} differently", show(&args)));
            }
        }
    }

    let Request { get, cookie: cookies } = php.request(query, &case.cookie)?;
    if get != parsed.keys {
        report(
            "parse_str vs $_GET",
            format!("parse_str {}, $_GET {}", show_list(&parsed.keys), show_list(&get)),
        );
    }
    let ours = crate_cookie_names(&case.cookie);
    if sorted(&ours) != sorted(&cookies) {
        report("cookie names", format!("PHP {}, crate {}", show_list(&cookies), show_list(&ours)));
    }
    for name in &cookies {
        let rules = SkipRules { cookies: GlobSet::new([name]), ..SkipRules::default() };
        let headers = [(&b"cookie"[..], &case.cookie[..])];
        let facts = RequestFacts {
            method: b"GET",
            uri: b"/",
            headers: headers.into_iter(),
            has_body: false,
        };
        if rules.evaluate(&facts, &Default::default()) != Some(SkipReason::Cookie) {
            report("bypass_cookies", format!("{} does not match", show(name)));
        }
    }
    Ok(found)
}

/// The normalised query and whether it matched `bypass`; `None` past the limits.
fn normalised(query: &[u8], rules: &ArgRules, bypass: &GlobSet) -> Option<(Vec<u8>, bool)> {
    let mut args = vec![0; query.len()];
    let mut stripped = vec![0; query.len()];
    let out = normalise(query, rules, bypass, &mut args, &mut stripped);
    args.truncate(out.args_len);
    (!out.limited).then_some((args, out.bypass))
}

fn crate_query_names(query: &[u8]) -> Names {
    let names = query.split(|&c| c == b'&').map(|segment| {
        let end = segment.iter().position(|&c| c == b'=').unwrap_or(segment.len());
        &segment[..end]
    });
    names.filter_map(|raw| php::query_name(raw).map(|n| n.decoded().collect())).collect()
}

fn crate_cookie_names(header: &[u8]) -> Names {
    php::cookie_names(header)
        .filter_map(|raw| php::cookie_name(raw).map(|n| n.decoded().collect()))
        .collect()
}

fn sorted(names: &[Vec<u8>]) -> Vec<&Vec<u8>> {
    let mut names: Vec<&Vec<u8>> = names.iter().collect();
    names.sort();
    names.dedup();
    names
}

/// Bytes as a quoted, escaped string.
pub fn show(bytes: &[u8]) -> String {
    format!("\"{}\"", bytes.escape_ascii())
}

fn show_list(names: &[Vec<u8>]) -> String {
    let names: Vec<String> = names.iter().map(|n| show(n)).collect();
    format!("[{}]", names.join(", "))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        write!(s, "{b:02x}").ok();
        s
    })
}

fn unhex_list(list: &str) -> io::Result<Names> {
    let unhex = |word: &str| {
        (0..word.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(word.get(i..i + 2).unwrap_or("x"), 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|e| io::Error::other(format!("bad hex {word:?}: {e}")))
    };
    list.split_whitespace().map(unhex).collect()
}
