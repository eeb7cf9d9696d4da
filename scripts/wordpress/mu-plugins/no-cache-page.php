<?php
/**
 * Test-only (scripts/wordpress/check-rules.sh): the page "personal" calls nocache_headers(), as
 * WooCommerce does for its cart, checkout and account pages whatever their slug.
 */
add_action(
	'template_redirect',
	function () {
		if ( is_page( 'personal' ) ) {
			nocache_headers();
		}
	}
);
