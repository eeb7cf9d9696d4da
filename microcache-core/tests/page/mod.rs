//! A WooCommerce-like shop page (head, header with a mini-cart, a grid of products, footer
//! scripts) and the hydration rules and state for it, shared by the tests and the benchmark.

use std::fmt::Write;

use microcache_core::hydrate::{Rules, State, DEFAULT_MAX_SIZE};

/// Products in a page of about 20 KB.
pub const PRODUCTS_20_KB: usize = 15;

/// The page with `products` products, about 1.1 KB each.
pub fn shop_page(products: usize) -> String {
    let mut page = String::from(
        r##"<!DOCTYPE html>
<html lang="fr-FR">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Boutique &#8211; Chapeaux &amp; Casquettes</title>
<link rel="preconnect" href="https://fonts.gstatic.com" crossorigin>
<link rel="stylesheet" id="wc-blocks-style-css" href="/wp-content/plugins/woocommerce/assets/client/blocks/wc-blocks.css?ver=wc-9.1.2" media="all">
<link rel="stylesheet" id="storefront-style-css" href="/wp-content/themes/storefront/style.css?ver=4.6.0" media="all">
<style id="storefront-woocommerce-style-inline-css">
a.cart-contents, .site-header-cart .widget_shopping_cart a { color: #333333; }
.woocommerce-info, .woocommerce-message { background-color: #0f834d; color: #ffffff; }
</style>
<script type="text/javascript" id="wc-add-to-cart-js-extra">
/* <![CDATA[ */
var wc_add_to_cart_params = {"ajax_url":"\/wp-admin\/admin-ajax.php","wc_ajax_url":"\/?wc-ajax=%%endpoint%%","i18n_view_cart":"Voir le panier","cart_url":"https:\/\/shop.example\/panier\/","is_cart":"","cart_redirect_after_add":"no"};
if (document.body && "</head>".length) {}
/* ]]> */
</script>
<script src="/wp-includes/js/jquery/jquery.min.js?ver=3.7.1" id="jquery-core-js"></script>
<!-- This comment mentions </head> and <body> and must not move the script -->
</head>
<body class="archive post-type-archive post-type-archive-product wp-embed-responsive theme-storefront woocommerce-shop woocommerce woocommerce-page">
<div id="page" class="hfeed site">
<header id="masthead" class="site-header" role="banner">
<div class="col-full">
<a class="skip-link screen-reader-text" href="#site-navigation">Aller à la navigation</a>
<div class="site-branding"><a href="/" class="custom-logo-link" rel="home"><img width="470" height="110" src="/wp-content/uploads/logo.png" class="custom-logo" alt="Chapeaux"></a></div>
<nav id="site-navigation" class="main-navigation" role="navigation" aria-label="Navigation principale">
<ul id="menu-primary" class="menu"><li class="menu-item"><a href="/">Accueil</a></li><li class="menu-item current-menu-item"><a href="/boutique/" aria-current="page">Boutique</a></li><li class="menu-item"><a href="/a-propos/">À propos</a></li><li class="menu-item"><a href="/contact/">Contact</a></li></ul>
</nav>
<ul id="site-header-cart" class="site-header-cart menu">
<li class=""><a class="cart-contents" href="/panier/" title="Voir votre panier"><span class="woocommerce-Price-amount amount"><bdi>0,00&nbsp;<span class="woocommerce-Price-currencySymbol">&euro;</span></bdi></span> <span class="count">0 article</span></a></li>
</ul>
</div>
</header>
<div id="content" class="site-content" tabindex="-1"><div class="col-full">
<div id="primary" class="content-area"><main id="main" class="site-main" role="main">
<header class="woocommerce-products-header"><h1 class="woocommerce-products-header__title page-title">Boutique</h1></header>
<ul class="products columns-3">
"##,
    );
    for i in 0..products {
        let _ = write!(
            page,
            r#"<li class="product type-product post-{id} status-publish instock product_cat-chapeaux has-post-thumbnail shipping-taxable purchasable product-type-simple">
<a href="/produit/chapeau-{i}/" class="woocommerce-LoopProduct-link woocommerce-loop-product__link"><img loading="lazy" width="324" height="324" src="/wp-content/uploads/chapeau-{i}-324x324.jpg" class="attachment-woocommerce_thumbnail size-woocommerce_thumbnail" alt="Chapeau n°{i}" decoding="async" srcset="/wp-content/uploads/chapeau-{i}-324x324.jpg 324w, /wp-content/uploads/chapeau-{i}-150x150.jpg 150w" sizes="(max-width: 324px) 100vw, 324px"><h2 class="woocommerce-loop-product__title">Chapeau n°{i} — feutre</h2>
<span class="price"><span class="woocommerce-Price-amount amount"><bdi>{i},90&nbsp;<span class="woocommerce-Price-currencySymbol">&euro;</span></bdi></span></span>
</a><a href="?add-to-cart={id}" data-quantity="1" class="button product_type_simple add_to_cart_button ajax_add_to_cart" data-product_id="{id}" data-product_sku="CH-{i}" aria-label="Ajouter « Chapeau n°{i} » à votre panier" rel="nofollow">Ajouter au panier</a></li>
"#,
            id = 1000 + i
        );
    }
    page.push_str(
        r#"</ul>
</main></div></div></div>
<footer id="colophon" class="site-footer" role="contentinfo"><div class="col-full"><div class="site-info">&copy; Chapeaux 2026</div></div></footer>
</div>
<script type="text/javascript" id="wc-cart-fragments-js-extra">
var wc_cart_fragments_params = {"ajax_url":"\/wp-admin\/admin-ajax.php","cart_hash_key":"wc_cart_hash_5c0a","fragment_name":"wc_fragments_5c0a","request_timeout":"5000"};
</script>
<script src="/wp-content/plugins/woocommerce/assets/js/frontend/cart-fragments.min.js?ver=9.1.2" id="wc-cart-fragments-js" defer></script>
</body>
</html>
"#,
    );
    page
}

/// The shipped mini-cart rules: the state as `window.__MICROCACHE_STATE__`, the cart's count
/// and amount as text, the count in an attribute.
pub fn mini_cart_rules() -> Rules {
    let mut rules = Rules::default();
    rules.set_script(b"__MICROCACHE_STATE__").unwrap();
    rules.add_text(b"a.cart-contents .count", b"cart.count_text").unwrap();
    rules.add_text(b"a.cart-contents .amount", b"cart.total").unwrap();
    rules.add_attr(b"a.cart-contents", b"data-count", b"{cart.count}").unwrap();
    rules
}

pub fn mini_cart_state() -> State {
    let json = r#"{"cart":{"count":3,"count_text":"3 articles","total":"59,70 €","items":[{"name":"Chapeau n°1","qty":2},{"name":"Chapeau n°7","qty":1}]},"user":{"greeting":"Bonjour"}}"#;
    State::parse(json.as_bytes(), DEFAULT_MAX_SIZE).unwrap()
}
