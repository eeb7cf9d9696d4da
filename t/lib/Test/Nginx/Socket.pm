package Test::Nginx::Socket;

# A small, self-contained stand-in for CPAN's Test::Nginx::Socket
# (openresty/test-nginx), written for the microcache suites because CPAN is
# unreachable here. It reads the same data format (it *is* a Test::Base
# subclass, so `=== TEST`, `--- section`, filters such as `eval` and `chomp`,
# ONLY/SKIP/LAST and `--- name: value` parse exactly as with the real one),
# writes the same nginx.conf skeleton and applies the same semantics to the
# sections it supports. Anything it does not support makes the test file
# bail out, so a test can never pass because a section was silently ignored.
#
# Deliberate differences from the real harness:
#   * the test server listens on 127.0.0.1 only;
#   * no HUP/valgrind/stap/check-leak/benchmark modes, no TEST_NGINX_RAND_PORT_*;
#   * combinations that the real harness would silently ignore (for example
#     response_body together with response_body_like) are refused;
#   * $TEST_NGINX_* in sections the real harness does not expand (request,
#     more_headers, error_log, ...) is refused instead of sent literally.

use strict;
use warnings;

# Lower-case -base: inherit from Test::Base (block parsing, plan, blocks,
# Test::More functions) without Spiffy's source filter.
use Test::Base -base;

use File::Spec ();
use File::Path qw(make_path remove_tree);
use IO::Socket::INET ();
use IO::Select ();
use POSIX ();
use Time::HiRes qw(sleep time);
use List::Util qw(shuffle);
use Scalar::Util qw(looks_like_number);

our @EXPORT = qw(
    plan run_tests blocks repeat_each no_shuffle no_long_string log_level
    master_on master_off master_process_enabled workers worker_connections
    no_root_location env_to_nginx add_block_preprocessor html_dir
    server_root server_port server_port_for_client timeout bail_out
    check_accum_error_log
);

# ---------------------------------------------------------------------------
# Settings: same environment variables and defaults as the real harness.

our $NginxBinary          = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $LoadModules          = $ENV{TEST_NGINX_LOAD_MODULES};
our $ServerAddr           = '127.0.0.1';
our $ServerName           = 'localhost';
our $ServerPort           = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient  = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $Timeout              = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $LogLevel             = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $NoShuffle            = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $CheckAccumErrLog     = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $Sleep                = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $Verbose              = $ENV{TEST_NGINX_VERBOSE};
our $Workers              = 1;
our $WorkerConnections    = 64;
our $RepeatEach           = 1;
our $NoRootLocation       = 0;
our (@EnvToNginx, @BlockPreprocessors);

our $ServRoot   = $ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot');
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;    # what the real one exports
our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $PidFile    = "$LogDir/nginx.pid";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $CacheDir   = "$ServRoot/cache";

our ($NginxVersion, $NginxV);    # canonical "1.022001" and `nginx -V` output
our $NginxPid;                   # the nginx we started and must stop
our $ErrLogFilePos = 0;

sub repeat_each (@)        { $RepeatEach = shift if @_; $RepeatEach }
sub no_shuffle ()          { $NoShuffle = 1 }
sub no_long_string ()      { }    # output formatting only: we always use is()
sub log_level (@)          { $LogLevel = shift if @_; $LogLevel }
sub master_on ()           { $MasterProcessEnabled = 'on' }
sub master_off ()          { $MasterProcessEnabled = 'off' }
sub master_process_enabled (@) {
    $MasterProcessEnabled = shift() ? 'on' : 'off' if @_;
    $MasterProcessEnabled;
}
sub workers (@)            { $Workers = shift if @_; $Workers }
sub worker_connections (@) { $WorkerConnections = shift if @_; $WorkerConnections }
sub no_root_location ()    { $NoRootLocation = 1 }
sub html_dir ()            { $HtmlDir }
sub server_root ()         { $ServRoot }
sub server_port (@)        { $ServerPort = shift if @_; $ServerPort }
sub server_port_for_client (@) { $ServerPortForClient = shift if @_; $ServerPortForClient }
sub timeout (@)            { $Timeout = shift if @_; $Timeout }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }

sub env_to_nginx (@) {
    croak "env_to_nginx: no arguments specified" unless @_;
    for my $v (@_) {
        croak "env_to_nginx: bad argument value: $v" if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub bail_out (@) {
    stop_nginx('bail_out');
    Test::More::BAIL_OUT(join '', @_);
}

# ---------------------------------------------------------------------------
# Sections. Everything else is refused (see check_block).

my %Supported = map { $_ => 1 } qw(
    main_config post_main_config http_config config user_files log_level
    request pipelined_requests raw_request more_headers timeout wait
    http2 no_http2 curl curl_options curl_protocol
    error_code error_code_like
    response_body response_body_like response_body_unlike
    response_headers response_headers_like
    raw_response_headers_like raw_response_headers_unlike
    error_log no_error_log grep_error_log grep_error_log_out
    must_die ignore_response no_check_leak skip_nginx skip_eval
    ONLY LAST SKIP
);

# The real harness checks only one section of each pair (the other one is
# silently ignored), so a block that sets both is a mistake.
my @Exclusive = (
    [qw(response_body response_body_like)], [qw(response_body response_body_unlike)],
    [qw(response_body_like response_body_unlike)],
    [qw(response_headers response_headers_like)], [qw(error_code error_code_like)],
    [qw(raw_request request)], [qw(raw_request pipelined_requests)],
    [qw(pipelined_requests request)], [qw(http2 raw_request)],
    [qw(http2 pipelined_requests)],
);

# Sections the real harness sends or matches without expanding $TEST_NGINX_*.
my @NotExpanded = qw(
    request more_headers raw_request error_log no_error_log grep_error_log
    response_headers response_headers_like response_body_like
    response_body_unlike raw_response_headers_like raw_response_headers_unlike
);

sub check_block {
    my $block = shift;
    my $name  = $block->name;
    my $order = $block->{_section_order}[0] || [];
    my $map   = $block->{_section_map}[0] || {};
    my %has   = map { $_ => 1 } @$order;

    for my $sec (@$order) {
        bail_out("$name - section '--- $sec' is not supported by the project's "
                 . "Test::Nginx::Socket (t/lib); extend it or use a supported section")
            unless $Supported{$sec};
        # A failing `eval` filter yields the error text as the value, which
        # could make e.g. a no_error_log pattern trivially "not match".
        if (($map->{$sec}{filters} // '') =~ /\beval\b/) {
            my $v = $block->{$sec}[0];
            bail_out("$name - '--- $sec eval' failed: $v")
                if defined $v && !ref $v && $v =~ /at \(eval \d+\) line \d+/;
        }
    }
    for my $pair (@Exclusive) {
        my ($x, $y) = @$pair;
        bail_out("$name - '--- $x' and '--- $y' cannot be combined (the real "
                 . "Test::Nginx would silently ignore one of them)")
            if $has{$x} && $has{$y};
    }
    for my $sec (@NotExpanded) {
        next unless $has{$sec};
        bail_out("$name - '--- $sec' contains \$TEST_NGINX_*, which the real Test::Nginx "
                 . "does not expand there; build the value with eval and \$ENV{...}")
            if grep { !ref && /\$TEST_NGINX_/ } flatten($block->$sec);
    }
    if (!defined $block->must_die && !grep { $has{$_} } qw(request raw_request pipelined_requests)) {
        bail_out("$name - no --- request, --- raw_request or --- pipelined_requests");
    }
    for my $sec (qw(curl_options curl_protocol)) {
        bail_out("$name - '--- $sec' only applies to --- http2 blocks (the real "
                 . "Test::Nginx ignores it for HTTP/1 requests)")
            if $has{$sec} && !$has{http2};
    }
    if (defined $block->curl_protocol && $block->curl_protocol ne 'http') {
        bail_out("$name - only '--- curl_protocol: http' is supported");
    }
}

sub flatten { map { ref eq 'ARRAY' ? flatten(@$_) : $_ } grep { defined } @_ }

# ---------------------------------------------------------------------------
# Main loop, mirroring the real run_tests()/run_test().

sub run_tests () {
    for my $mode (qw(USE_HTTP2 USE_HTTP3 USE_HUP USE_VALGRIND USE_STAP CHECK_LEAK
                     BENCHMARK RANDOMIZE NO_NGINX_MANAGER)) {
        bail_out("TEST_NGINX_$mode is not supported by the project's Test::Nginx::Socket")
            if $ENV{"TEST_NGINX_$mode"};
    }
    $NginxV = `$NginxBinary -V 2>&1`;
    bail_out("cannot run '$NginxBinary -V': $NginxV") if $? != 0;
    $NginxV =~ m{nginx/(\d+)\.(\d+)\.(\d+)}
        or bail_out("cannot parse the version in '$NginxBinary -V': $NginxV");
    $NginxVersion = sprintf '%d.%03d%03d', $1, $2, $3;
    $ENV{TEST_NGINX_SERVER_PORT} //= $ServerPort;

    # Stop our nginx even when the run is interrupted.
    local $SIG{INT}  = sub { stop_nginx('SIGINT');  exit 130 };
    local $SIG{TERM} = sub { stop_nginx('SIGTERM'); exit 143 };

    for my $block ($NoShuffle ? blocks() : shuffle blocks()) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        run_block($block);
    }
    stop_nginx('END');
}

END { stop_nginx('END') }

sub run_block {
    my $block = shift;
    my $name  = $block->name;
    check_block($block);

    if (my ($n, $reason) = skip_spec($block)) {
        for (1 .. $RepeatEach) {
            SKIP: { Test::More::skip("$name - $reason", $n) }
        }
        return;
    }

    my $config = $block->config;
    if (defined $config) {
        $config = expand_env($config, $name);
        stop_nginx($name);
        setup_server_root();
        write_user_files($block);
        write_config_file($block, $config);
        if (defined $block->must_die) {
            run_must_die($block);
            return;
        }
        start_nginx($block) or return;
    } elsif (!$NginxPid) {
        bail_out("$name - no '--- config' section and no nginx from a previous block to reuse");
    }

    $ErrLogFilePos = 0;
    for my $rep (0 .. $RepeatEach - 1) {
        write_user_files($block) if $rep > 0;
        run_requests($block, $rep);
    }
}

# --- skip_nginx: N: OP x.y.z[: reason]   --- skip_eval: N: perl-code
sub skip_spec {
    my $block = shift;
    my $name  = $block->name;
    if (defined(my $s = $block->skip_nginx)) {
        $s =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)\s*(?::\s*(.*?))?\s*$/
            or bail_out("$name - invalid --- skip_nginx spec: $s");
        my ($n, $op, $reason) = ($1, $2, $6);
        my $ver = sprintf '%d.%03d%03d', $3, $4, $5;
        my $skip = eval "$NginxVersion $op $ver";
        return ($n, $reason || "nginx version $op $3.$4.$5") if $skip;
    }
    if (defined(my $s = $block->skip_eval)) {
        $s =~ /^\s*(\d+)\s*:\s*(.*)/s or bail_out("$name - invalid --- skip_eval spec: $s");
        my ($n, $code) = ($1, $2);
        my $skip = eval $code;
        bail_out("$name - skip_eval: cannot eval \"$code\": $@") if $@;
        return ($n, 'skip_eval') if $skip;
    }
    return;
}

# ---------------------------------------------------------------------------
# Server root, user files, nginx.conf

sub setup_server_root {
    if (-d $ServRoot) {
        # Like the real harness, remove only what it creates, so a mistaken
        # TEST_NGINX_SERVROOT can never wipe unrelated data.
        remove_tree($ConfDir, $LogDir, $HtmlDir, $CacheDir,
                    glob("$ServRoot/*_cache"), glob("$ServRoot/*_temp"));
        if (!rmdir $ServRoot) {
            opendir(my $dh, $ServRoot) or bail_out("cannot read $ServRoot: $!");
            my @left = grep { !/^\.\.?$/ } readdir $dh;
            bail_out("cannot remove $ServRoot (left: @left): name cache "
                     . "directories *_cache and temp directories *_temp");
        }
    }
    make_path($LogDir, $HtmlDir, $ConfDir);
    write_file("$HtmlDir/index.html",
               '<html><head><title>It works!</title></head><body>It works!</body></html>');
}

sub write_file {
    my ($path, $data) = @_;
    open my $out, '>', $path or bail_out("cannot write $path: $!");
    binmode $out;
    print $out $data;
    close $out or bail_out("cannot write $path: $!");
}

# --- user_files: ">>> name [mtime]" lines, or eval [[name, body, mtime], ...]
sub write_user_files {
    my $block = shift;
    my $name  = $block->name;
    my $files = $block->user_files;
    return unless defined $files;
    if (!ref $files) {
        my @list;
        for my $line (split /^/m, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, '', $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    }
    ref $files eq 'ARRAY' or bail_out("$name - --- user_files must be a string or an ARRAY");
    for my $f (@$files) {
        my ($fname, $body, $date) = @$f;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        make_path($1) if $path =~ m{(.*)/} && !-d $1;
        write_file($path, expand_env($body // '', $name));
        if ($date) {
            local $ENV{TZ} = 'GMT';
            system('touch', '-t', $date, $path) == 0 or bail_out("$name - touch -t $date failed");
        }
    }
}

sub write_config_file {
    my ($block, $config) = @_;
    my $name = $block->name;

    my $main_config = $block->main_config // '';
    if ($LoadModules) {
        my @mods = map { "load_module $_;" } grep { length } split /\s+/, $LoadModules;
        $main_config = join ' ', @mods, $main_config if @mods;
    }
    $main_config      = expand_env($main_config, $name);
    my $http_config   = expand_env($block->http_config // '', $name);
    my $post_main     = expand_env($block->post_main_config // '', $name);
    my $log_level     = $block->log_level || $LogLevel;
    my $env           = join '', map { /\s/ ? "env '$_';\n" : "env $_;\n" } @EnvToNginx;

    # `listen ... http2` is deprecated from nginx 1.25.1 on ("http2 on;").
    my ($listen_opts, $http2) = ('', '');
    if (defined $block->http2) {
        if ($NginxVersion >= 1.025001) { $http2 = ' http2 on;' } else { $listen_opts = ' http2' }
    }

    # Keep every temp path inside the server root (Debian's nginx defaults to
    # /var/lib/nginx), unless the module is compiled out or the test sets it.
    my $temp = '';
    for my $t (qw(client_body proxy fastcgi scgi uwsgi)) {
        next if $NginxV =~ /--without-http_${t}_module/;
        next if $http_config =~ /\b${t}_temp_path\b/;
        $temp .= " ${t}_temp_path $ServRoot/${t}_temp;";
    }

    my $root_location = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_
    my $user = $> == 0 ? "user root;\n" : '';

    write_file($ConfFile, <<"_EOC_");
worker_processes  $Workers;
daemon on;
master_process $MasterProcessEnabled;
error_log $ErrLogFile $log_level;
pid       $PidFile;
$env
$main_config

http {
    access_log $AccLogFile;$temp

    default_type text/plain;
    keepalive_timeout  68000ms;

$http_config

    server {
        listen          $ServerAddr:$ServerPort$listen_opts;$http2
        server_name     '$ServerName';
        client_max_body_size 30M;

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main

events {
    accept_mutex off;
    worker_connections  $WorkerConnections;
}
$user
_EOC_
}

sub expand_env {
    my ($text, $name) = @_;
    return $text unless defined $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        defined $ENV{$1} ? $ENV{$1} : bail_out("$name - No environment $1 defined.\n")
    }ge;
    $text;
}

# ---------------------------------------------------------------------------
# Starting and stopping nginx. Only the PID this process started is ever
# signalled.

sub nginx_cmd {
    # -e (nginx >= 1.19.5) sends start-up errors to our error.log, not to
    # the compiled-in default (stderr for Debian's package).
    ($NginxBinary, ($NginxVersion >= 1.019005 ? ('-e', $ErrLogFile) : ()),
     '-p', "$ServRoot/", '-c', $ConfFile);
}

# Run a command with stdout to /dev/null and stderr to a file (not a pipe:
# the daemonised nginx inherits it and would keep a pipe open forever).
sub run_cmd {
    my @cmd = @_;
    my $errfile = "$LogDir/stderr.$$";
    my $pid = fork // bail_out("fork failed: $!");
    if ($pid == 0) {
        open STDIN,  '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', $errfile;
        exec @cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    my $status = $?;
    my $err = '';
    if (open my $in, '<', $errfile) { local $/; $err = <$in> // ''; close $in }
    unlink $errfile;
    return ($status, $err);
}

sub start_nginx {
    my $block = shift;
    my $name  = $block->name;
    my ($status, $err) = run_cmd(nginx_cmd());
    if ($status != 0) {
        Test::More::fail("$name - nginx failed to start (status $status): $err"
                         . tail_file($ErrLogFile, 10));
        return 0;
    }
    # The daemon writes its pid file just after the parent exits.
    for (1 .. 200) {
        last if -s $PidFile;
        sleep 0.01;
    }
    my $pid = read_pid();
    if (!$pid) {
        Test::More::fail("$name - nginx started but wrote no pid file $PidFile");
        return 0;
    }
    $NginxPid = $pid;
    warn "started nginx $pid\n" if $Verbose;
    sleep $Sleep;
    return 1;
}

sub read_pid {
    open my $in, '<', $PidFile or return undef;
    my $pid = <$in> // '';
    close $in;
    $pid =~ /^(\d+)$/ ? $1 : undef;
}

sub is_running {
    my $pid = shift;
    return 0 unless kill 0, $pid;
    open my $in, '<', "/proc/$pid/stat" or return 1;
    my $stat = <$in> // '';
    return $stat !~ /^\d+ \(.*\) Z /;    # a zombie has exited
}

sub stop_nginx {
    my $why = shift;
    my $pid = $NginxPid or return;
    undef $NginxPid;
    return unless is_running($pid);
    warn "stopping nginx $pid ($why)\n" if $Verbose;
    for my $sig (qw(QUIT TERM KILL)) {
        kill $sig, $pid;
        my $deadline = time + ($sig eq 'QUIT' ? $Timeout : 1);
        while (time < $deadline) {
            return unless is_running($pid);
            sleep 0.02;
        }
        warn "$why - nginx $pid did not exit on SIG$sig\n";
    }
}

sub tail_file {
    my ($file, $n) = @_;
    open my $in, '<', $file or return '';
    my @lines = <$in>;
    close $in;
    return @lines ? "\n--- last lines of $file:\n" . join('', @lines[-($n < @lines ? $n : @lines) .. -1]) : '';
}

# --- must_die: nginx must refuse to start (any non-zero status, or exactly
# the given exit code); error_log/no_error_log are then matched against
# error.log, where nginx -e has put the start-up errors.
sub run_must_die {
    my $block    = shift;
    my $name     = $block->name;
    my $must_die = $block->must_die;
    $ErrLogFilePos = 0;
    for my $rep (0 .. $RepeatEach - 1) {
        my ($status, $err) = run_cmd(nginx_cmd());
        my $code = $status >> 8;
        if ($status & 127) {
            Test::More::fail("$name - nginx died from signal " . ($status & 127));
        } elsif (looks_like_number($must_die)) {
            Test::More::is($code, $must_die, "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }
        # Like the real harness, match error.log only (nginx -e puts the
        # start-up errors there, as "[emerg] PID#PID: message"); stderr is
        # only used to explain a pattern written for its "nginx: [emerg]
        # message" form.
        check_error_log($block, $rep, error_log_data(), $err);
        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; stopping it\n";
            for (1 .. 100) { last if -s $PidFile; sleep 0.01 }
            $NginxPid = read_pid();
            stop_nginx($name);
        }
    }
}

# ---------------------------------------------------------------------------
# Requests

sub run_requests {
    my ($block, $rep) = @_;
    my $name    = $block->name;
    my $timeout = parse_time($block->timeout) // $Timeout;
    my $reqs    = requests_from_block($block);
    my $pipe    = $block->pipelined_requests;
    my $need_array = $pipe ? 1 : @$reqs > 1;

    if (defined $block->curl) {
        warn "# ", join(' ', map { /[^\w\/:.=,@-]/ ? "'$_'" : $_ } @{ curl_cmd($block, $reqs->[0], $timeout) }), "\n";
    }

    my $idx = 0;
    for my $req (@$reqs) {
        my $raw = defined $block->http2
            ? send_by_curl($block, $req, $timeout)
            : send_http1($block, $req, $timeout);
        my $n = $pipe ? @$pipe : 1;
        for (1 .. $n) {
            unless (defined $block->ignore_response) {
                my ($res, $left) = parse_response($name, $raw // '', $req->{head});
                $raw = $left;
                warn "WARNING: $name - unexpected extra bytes after the response: \"",
                    printable($left), "\"\n" if $n == 1 && defined $left && length $left;
                check_response($block, $res, $rep, $idx, $need_array);
            }
            sleep $block->wait if $block->wait;
            check_error_log($block, $rep);
            $idx++;
        }
    }
}

sub parse_time {
    my $t = shift;
    return undef unless defined $t;
    return $1 / 1000 if $t =~ /^([\d.]+)ms$/;
    return $1 if $t =~ /^([\d.]+)s?$/;
    return $t;
}

# Returns a list of { packets => [...], head => bool, text => request }.
sub requests_from_block {
    my $block = shift;
    my $name  = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        my @packets = ref $raw eq 'ARRAY' ? @$raw : ($raw);
        my $all = join '', map { ref $_ eq 'HASH' ? $_->{value} : $_ } @packets;
        return [{ packets => \@packets, head => scalar($all =~ /^\s*HEAD\s/), text => $all }];
    }

    my $more = $block->more_headers // '';
    my $headers_for = sub {
        my $i = shift;
        return $more unless ref $more eq 'ARRAY';
        defined $more->[$i] or bail_out("$name - --- more_headers lacks data for request $i");
        return $more->[$i];
    };

    if (defined(my $pipe = $block->pipelined_requests)) {
        ref $pipe eq 'ARRAY' or bail_out("$name - --- pipelined_requests must be an eval'd ARRAY");
        my $all = '';
        for my $i (0 .. $#$pipe) {
            my $conn = $i == $#$pipe ? 'close' : 'keep-alive';
            $all .= build_request($name, expand_env($pipe->[$i], $name), $headers_for->($i), $conn);
        }
        return [{ packets => [$all], head => scalar($all =~ /^\s*HEAD\s/), text => $all }];
    }

    my $request = $block->request;
    my @list;
    if (!ref $request) {
        # Leading blank lines and "# comment" lines are not part of it.
        1 while $request =~ s/^\s*#[^\n]+\s+|^\s+//s;
        @list = ($request);
    } elsif (ref $request eq 'ARRAY') {
        @list = @$request;
    } else {
        bail_out("$name - --- request must be a string or an ARRAY of strings");
    }
    my @out;
    for my $i (0 .. $#list) {
        ref $list[$i] and bail_out("$name - requests split into packets are not supported; use raw_request");
        my $text = build_request($name, $list[$i], $headers_for->($i), 'close');
        push @out, { packets => [$text], head => scalar($text =~ /^HEAD\s/), text => $text };
    }
    return \@out;
}

# "GET /uri [HTTP/1.x]" + optional body lines -> full HTTP/1 request, adding
# Host, Connection and Content-Length like the real harness.
sub build_request {
    my ($name, $req, $more, $conn) = @_;
    my ($first, $body) = split /\n/, $req // '', 2;
    defined $first && $first =~ /^\s*(\S+)(?: +(\S+))?(?: +(\S+))?\s*$/
        or bail_out("$name - request line is not valid: should be 'meth [url [version]]'");
    my ($meth, $url, $ver) = ($1, $2 // '/', $3 // 'HTTP/1.1');
    $body //= '';

    my ($hdr, $chunked) = ('', 0);
    for my $line (split /\n+/, $more) {
        next if $line =~ /^\s*#/;
        my ($k, $v) = split /:\s*/, $line, 2;
        $v //= '';
        $chunked = 1 if lc $k eq 'transfer-encoding' && $v eq 'chunked';
        $hdr .= "$k: $v\r\n";
    }
    my $len = '';
    if (!$chunked && $body ne '' && $hdr !~ /(?:^|\n)Content-Length:/) {
        $body =~ s/^\s+|\s+$//gs;
        $len = "Content-Length: " . length($body) . "\r\n";
    }
    my $std = '';
    $std .= "Host: $ServerName\r\n" if $hdr !~ /(?:^|\n)Host:/i;
    $std .= "Connection: $conn\r\n" if $hdr !~ /(?:^|\n)Connection/i;
    return "$meth $url $ver\r\n$std$hdr$len\r\n$body";
}

sub send_http1 {
    my ($block, $req, $timeout) = @_;
    my $name = $block->name;
    local $SIG{PIPE} = 'IGNORE';

    my $sock;
    for my $try (1 .. 20) {
        $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr, PeerPort => $ServerPortForClient,
                                      Proto => 'tcp', Timeout => $timeout);
        last if $sock;
        sleep 0.05 * $try;
    }
    if (!$sock) {
        Test::More::fail("$name - cannot connect to $ServerAddr:$ServerPortForClient: $!");
        return undef;
    }
    binmode $sock;

    my $resp = '';
    for my $packet (@{ $req->{packets} }) {
        my $data = ref $packet eq 'HASH' ? $packet->{value} : $packet;
        sleep $packet->{delay_before} if ref $packet eq 'HASH' && $packet->{delay_before};
        my $off = 0;
        while ($off < length $data) {
            my $n = syswrite $sock, $data, length($data) - $off, $off;
            if (!defined $n) {
                warn "WARNING: $name - write failed: $!\n";
                last;
            }
            $off += $n;
        }
    }

    # Read until the server closes the connection, with an inactivity timeout.
    my $sel = IO::Select->new($sock);
    while (1) {
        if (!$sel->can_read($timeout)) {
            Test::More::fail("ERROR: client socket timed out - $name\n");
            last;
        }
        my $n = sysread $sock, my $buf, 65536;
        if (!defined $n) {
            warn "WARNING: $name - HTTP response read failure: $!\n";
            last;
        }
        last if $n == 0;
        $resp .= $buf;
    }
    close $sock;
    return $resp;
}

# HTTP/2 goes through curl, with the same command line as the real harness.
sub curl_cmd {
    my ($block, $req, $timeout) = @_;
    my $name = $block->name;
    my $text = $req->{text};
    $text =~ /^(\w+)\s+(\S+)\s+HTTP\/(\S+)\r\n(.*?)\r\n\r\n(.*)\z/s
        or bail_out("$name - cannot parse the request for curl: $text");
    my ($meth, $uri, $ver, $headers, $body) = ($1, $2, $3, $4, $5);
    my @args = ('curl', '-i', '-H', 'User-Agent:', '-H', 'Accept:', '-H', 'Host:', '-sS');
    push @args, '--http2-prior-knowledge' if defined $block->http2;
    if ($meth eq 'HEAD') { push @args, '-I' }
    elsif ($meth ne 'GET') { push @args, '-X', $meth }
    push @args, '-0' if $ver ne '1.1';
    my $ctype;
    for my $h (grep { !/^Connection\s*:/i } split /\r\n/, $headers) {
        $ctype = 1 if $h =~ /^\s*Content-Type\s*:/i;
        push @args, '-H', $h;
    }
    if (length $body) {
        push @args, '-H', 'Content-Type: ' unless $ctype;
        write_file("$HtmlDir/curl.data.bin", $body);
        push @args, '--data-binary', "\@$HtmlDir/curl.data.bin";
    }
    push @args, '--connect-timeout', $timeout, '--max-time', $timeout;
    if (defined(my $opt = $block->curl_options)) {
        $opt =~ s/^\s+|\s+$//g;
        push @args, $opt;    # one argument, as in the real harness
    }
    push @args, "http://$ServerAddr:$ServerPortForClient$uri";
    return \@args;
}

sub send_by_curl {
    my ($block, $req, $timeout) = @_;
    my $name = $block->name;
    my $cmd  = curl_cmd($block, $req, $timeout);
    my $errfile = "$LogDir/curl.stderr.$$";
    my $pid = open(my $out, '-|') // bail_out("fork failed: $!");
    if ($pid == 0) {
        open STDERR, '>', $errfile;
        exec @$cmd or POSIX::_exit(127);
    }
    binmode $out;
    my $resp = do { local $/; <$out> } // '';
    close $out;
    my $status = $?;
    my $err = '';
    if (open my $in, '<', $errfile) { local $/; $err = <$in> // ''; close $in }
    unlink $errfile;
    if ($resp eq '') {
        Test::More::fail("$name - curl (status " . ($status >> 8) . ") gave no output: $err\n@$cmd");
        return undef;
    }
    warn "WARNING: $name - curl wrote to stderr: $err" if length $err;
    return $resp;
}

# ---------------------------------------------------------------------------
# Responses

package Test::Nginx::Socket::Response {
    sub new { my ($c, %a) = @_; bless {%a}, $c }
    sub code { $_[0]{code} }
    sub content { $_[0]{body} }
    # Like HTTP::Response->header: case-insensitive, repeated fields joined.
    sub header {
        my ($self, $key) = @_;
        my @v = map { $_->[1] } grep { lc $_->[0] eq lc $key } @{ $self->{headers} };
        return @v ? join(', ', @v) : undef;
    }
}

# Returns (response object or undef, bytes left after this response).
sub parse_response {
    my ($name, $raw, $head) = @_;
    my ($raw_headers, $rest) = ('', $raw);
    if ($raw =~ /\A(.*?\r\n)\r\n/s) {
        $raw_headers = $1;
        $rest = substr $raw, length($1) + 2;
    } else {
        ($raw_headers, $rest) = ($raw, '');
    }
    my ($status, @lines) = split /\r\n/, $raw_headers;
    my $code = ($status // '') =~ m{^HTTP/[\d.]+ +(\d+)} ? $1 : undef;
    my @headers = map { /^([^:\s]+)\s*:\s*(.*?)\s*$/ ? [$1, $2] : () } @lines;
    my $res = Test::Nginx::Socket::Response->new(code => $code, headers => \@headers,
                                                  raw_headers => $raw_headers, body => $rest);
    return ($res, undef) if $code && ($code == 304 || $code == 101 || $code == 204);
    if ($head) {    # a HEAD response has no body, whatever its headers say
        $res->{body} = '';
        return ($res, $rest);
    }

    my $te  = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    if (defined $te && $te eq 'chunked') {
        my $body = '';
        pos($rest) = 0;
        while (1) {
            if ($rest !~ /\G[ \t]*([0-9A-Fa-f]+)[^\r\n]*\r\n/gc) {
                Test::More::fail("$name - invalid chunked body: no chunk size at offset " . (pos($rest) // 0));
                return (undef, undef);
            }
            my $size = hex $1;
            if ($size == 0) {
                # Skip trailers up to the empty line.
                $rest =~ /\G(?:[^\r\n]+\r\n)*\r\n/gc
                    or do { Test::More::fail("$name - invalid chunked body: bad last chunk"); return (undef, undef) };
                my $left = substr $rest, pos $rest;
                $res->{body} = $body;
                return ($res, $left);
            }
            my $p = pos $rest;
            if (length($rest) < $p + $size + 2 || substr($rest, $p + $size, 2) ne "\r\n") {
                Test::More::fail("$name - invalid chunked body: truncated chunk of $size bytes");
                return (undef, undef);
            }
            $body .= substr $rest, $p, $size;
            pos($rest) = $p + $size + 2;
        }
    }
    if (defined $len && $len =~ /^\d+$/) {
        if (length $rest < $len) {
            warn "WARNING: $name - response body truncated: $len expected, got ", length $rest, "\n";
        } elsif (length $rest > $len) {
            $res->{body} = substr $rest, 0, $len;
            return ($res, substr $rest, $len);
        }
    }
    return ($res, undef);
}

sub printable {
    my $s = shift;
    $s =~ s/([\0-\037\177-\377])/sprintf '\x{%02x}', ord $1/ge;
    $s;
}

sub get_indexed_value {
    my ($name, $value, $idx, $need_array) = @_;
    if (ref $value eq 'ARRAY') {
        return $value->[$idx] if $need_array;
        return $value->[0];
    }
    bail_out("$name - several requests were sent, so the expected results must be arrays as well")
        if $need_array;
    return $value;
}

sub check_response {
    my ($block, $res, $rep, $idx, $need_array) = @_;
    my $name = $block->name;
    my $code = ($res && $res->code) || '';
    my $val  = sub { get_indexed_value($name, $_[0], $idx, $need_array) };

    if (defined $block->error_code_like) {
        my $pat = $val->($block->error_code_like);
        Test::More::like($code, qr/$pat/sm, "$name - status code ok");
    } elsif (defined $block->error_code) {
        Test::More::is($code, $val->($block->error_code), "$name - status code ok");
    } else {
        Test::More::is($code, 200, "$name - status code ok");
    }

    my $raw_headers = $res ? $res->{raw_headers} : '';
    if (defined $block->raw_response_headers_like) {
        my $pat = $val->($block->raw_response_headers_like);
        Test::More::like($raw_headers, qr/$pat/s, "$name - raw resp headers like");
    }
    if (defined $block->raw_response_headers_unlike) {
        my $pat = $val->($block->raw_response_headers_unlike);
        Test::More::unlike($raw_headers, qr/$pat/s, "$name - raw resp headers unlike");
    }

    if (defined $block->response_headers) {
        for my $h (parse_header_spec($val->($block->response_headers))) {
            my ($key, $want) = @$h;
            if (!defined $want) {
                # Case-insensitive (HTTP/2 names are lower case): stricter
                # than the real harness, never looser.
                Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/mi,
                                   "$name - header $key not present in the raw headers");
                next;
            }
            $want =~ s/\$ServerPort\b/$ServerPort/g;
            $want =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            my $got = $res ? $res->header($key) : undef;
            Test::More::is($got // '', $want, "$name - header $key ok");
        }
    } elsif (defined $block->response_headers_like) {
        for my $h (parse_header_spec($val->($block->response_headers_like))) {
            my ($key, $pat) = @$h;
            my $got = $res ? $res->header($key) : undef;
            Test::More::like($got // '', qr/^$pat$/, "$name - header $key like ok");
        }
    }

    my $content = $res ? $res->content : undef;
    if (defined $block->response_body) {
        my $want = $val->($block->response_body);
        if (defined $want && !ref $want) {
            $want =~ s/\$ServerPort\b/$ServerPort/g;
            $want =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            $want = expand_env($want, $name);
        }
        if (ref $want) {
            Test::More::like($content, $want, "$name - response_body - like (repeated req $rep, req $idx)");
        } else {
            Test::More::is($content, $want,
                           "$name - response_body - response is expected (repeated req $rep, req $idx)");
        }
    } elsif (defined $block->response_body_like || defined $block->response_body_unlike) {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $pat  = $val->($type eq 'like' ? $block->response_body_like : $block->response_body_unlike);
        $pat =~ s/\$ServerPort\b/$ServerPort/g unless ref $pat;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g unless ref $pat;
        my $summary = $content // '';
        $summary =~ s/\s+/ /g;
        $summary = substr($summary, 0, 200) . '...' if length $summary > 200;
        no strict 'refs';
        &{"Test::More::$type"}($content, qr/$pat/s,
                               "$name - response_body_$type - response is expected ($summary)");
    }
}

# "Name: value" lines; "!Name" means absent. The real harness keeps them in a
# hash, so a repeated name counts once (last one wins).
sub parse_header_spec {
    my $spec = shift // '';
    my (%seen, @order);
    for my $line (split /\n/, $spec) {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        my ($key, $v);
        if ($line =~ s/^!\s*//) { ($key, $v) = ($line, undef) }
        else { ($key, $v) = split /\s*:\s*/, $line, 2 }
        push @order, $key unless exists $seen{$key};
        $seen{$key} = $v;
    }
    return map { [$_, $seen{$_}] } @order;
}

# ---------------------------------------------------------------------------
# Error log

# New lines of error.log since the previous call within this block.
sub error_log_data {
    sleep $Sleep * 3;    # log-phase lines are written after the response
    open my $in, '<', $ErrLogFile or return [];
    seek $in, $ErrLogFilePos, 0 if !$CheckAccumErrLog && $ErrLogFilePos > 0;
    my @lines = <$in>;
    $ErrLogFilePos = tell $in unless $CheckAccumErrLog;
    close $in;
    return \@lines;
}

sub patterns {
    my $pats = shift;
    return () unless defined $pats;
    return ($pats) if ref $pats eq 'Regexp';
    return grep { defined } @$pats if ref $pats eq 'ARRAY';
    chomp $pats;
    return split /\n+/, $pats;
}

sub matches { my ($line, $pat) = @_; ref $pat ? $line =~ $pat : index($line, $pat) >= 0 }

sub check_error_log {
    my ($block, $rep, $lines, $stderr) = @_;
    my $name = $block->name;
    $lines ||= error_log_data();

    if (defined(my $gpat = $block->grep_error_log)) {
        $gpat = $gpat->[$rep] if ref $gpat eq 'ARRAY';
        my $want = $block->grep_error_log_out;
        bail_out("$name - --- grep_error_log needs --- grep_error_log_out") unless defined $want;
        $want = $want->[$rep] if ref $want eq 'ARRAY';
        $want = expand_env($want, $name) unless ref $want;
        my $got = '';
        for my $line (@$lines) {
            if (ref $gpat ? $line =~ $gpat : $line =~ /\Q$gpat\E/) {
                $got .= "$&\n" if $& !~ /\n/;
            }
        }
        ref $want
            ? Test::More::like($got, $want, "$name - grep_error_log_out (req $rep)")
            : Test::More::is($got, $want, "$name - grep_error_log_out (req $rep)");
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - --- grep_error_log_out needs --- grep_error_log");
    }

    my @want = patterns($block->error_log);
    my @dont = patterns($block->no_error_log);

    for my $pat (@want) {
        if (grep { matches($_, $pat) } @$lines) {
            Test::More::pass("$name - pattern \"$pat\" matches a line in error.log (req $rep)");
        } else {
            my $hint = '';
            if (defined $stderr && grep { matches($_, $pat) } split /^/m, $stderr) {
                $hint = "\n  (it matches nginx's stderr, but error.log lines read "
                      . "\"[emerg] PID#PID: message\": match the message without \"[emerg] \","
                      . " or use qr/\\[emerg\\] .*message/)";
            }
            Test::More::fail("$name - pattern \"$pat\" should match a line in error.log (req $rep)$hint");
        }
    }
    for my $pat (@dont) {
        my @hits = grep { matches($_, $pat) } @$lines;
        Test::More::fail("$name - pattern \"$pat\" should not match any line in error.log "
                         . "but matches line \"" . printable($_) . "\" (req $rep)") for @hits;
        Test::More::pass("$name - pattern \"$pat\" does not match a line in error.log (req $rep)")
            unless @hits;
    }

    # Like the real harness: warn about serious messages nobody asked about.
    for my $level (qw(alert crit emerg)) {
        next if grep { index("$_", "[$level") >= 0 } @want, @dont;
        warn "WARNING: $name - $_" for grep { /\[$level\]/ } @$lines;
    }
}

1;
