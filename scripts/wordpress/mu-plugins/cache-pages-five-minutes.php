<?php
/**
 * Test-only (scripts/wordpress/check-nginx-helper.sh, check-tags.sh): pages, feeds and REST API
 * answers tell nginx to keep them for five minutes (X-Accel-Expires), as on a site that relies
 * on purges rather than on a short cache lifetime. Within a check, a page then changes only
 * when a purge removed it, never because its entry expired.
 */
add_action(
	'send_headers',
	function () {
		if ( ! is_404() && ! is_user_logged_in() ) {
			header( 'X-Accel-Expires: 300' );
		}
	}
);
add_filter(
	'rest_post_dispatch',
	function ( $response ) {
		if ( ! is_user_logged_in() && $response instanceof WP_REST_Response ) {
			$response->header( 'X-Accel-Expires', '300' );
		}
		return $response;
	}
);
