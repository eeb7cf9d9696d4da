<?php
/**
 * Test-only (scripts/wordpress/check-nginx-helper.sh): pages and feeds tell nginx to keep them
 * for five minutes (X-Accel-Expires), as on a site that relies on purges rather than on a short
 * cache lifetime. Within a check, a page then changes only when a purge removed it, never
 * because its entry expired.
 */
add_action(
	'send_headers',
	function () {
		if ( ! is_404() && ! is_user_logged_in() ) {
			header( 'X-Accel-Expires: 300' );
		}
	}
);
