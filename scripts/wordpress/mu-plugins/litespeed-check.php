<?php
/**
 * Test-only (scripts/wordpress/check-litespeed.sh): what LiteSpeed Cache for WordPress said and
 * whom a page was rendered for, so the check can compare it with what nginx did.
 *
 * - Every X-LiteSpeed-* header PHP sends is appended to wp-content/litespeed-headers.log, one
 *   line per header: "<method> <request URI>\t<header>". nginx removes them from responses, so
 *   this is the only place a check can read what the plugin asked for.
 * - Every front-end page ends with <!-- microcache-check roles: ... --> naming the roles of the
 *   visitor it was rendered for ("none" for an anonymous visitor): a cached page shows whom it
 *   was rendered for.
 */
register_shutdown_function(
	function () {
		$lines = '';
		foreach ( headers_list() as $header ) {
			if ( 0 === stripos( $header, 'X-LiteSpeed-' ) ) {
				$lines .= ( $_SERVER['REQUEST_METHOD'] ?? '-' ) . ' ' . ( $_SERVER['REQUEST_URI'] ?? '-' ) . "\t" . $header . "\n";
			}
		}
		if ( '' !== $lines ) {
			file_put_contents( WP_CONTENT_DIR . '/litespeed-headers.log', $lines, FILE_APPEND | LOCK_EX );
		}
	}
);
add_action(
	'wp_footer',
	function () {
		$user  = wp_get_current_user();
		$roles = $user->exists() ? implode( ',', $user->roles ) : 'none';
		echo "\n<!-- microcache-check roles: " . esc_html( $roles ) . " -->\n";
	},
	9999
);
