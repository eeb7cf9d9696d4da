//! What a page is made of as an HTML parser sees it, shared by the tests and the fuzz targets.

use lol_html::html_content::Element;
use lol_html::{element, HtmlRewriter, Settings};

/// Start tag names in document order.
pub fn element_names(html: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let settings = Settings::new().with_strict(false).append_element_content_handler(element!(
        "*",
        |el: &mut Element<'_, '_>| {
            names.push(el.tag_name());
            Ok(())
        }
    ));
    let mut parser = HtmlRewriter::new(settings, |_: &[u8]| {});
    parser.write(html).unwrap();
    parser.end().unwrap();
    names
}
