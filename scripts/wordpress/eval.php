<?php
/**
 * Runs PHP code with WordPress loaded, logged in as the site's first administrator
 * (scripts/wordpress/lib.sh: wp_php). Like `wp eval`, which Debian does not package.
 *
 *   php eval.php DOCUMENT_ROOT CODE
 */

if ( 3 !== $argc ) {
	fwrite( STDERR, "usage: php eval.php DOCUMENT_ROOT CODE\n" );
	exit( 2 );
}
$_SERVER['HTTP_HOST']   = 'example.com';
$_SERVER['REQUEST_URI'] = '/';
require $argv[1] . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/admin.php';
$admins = get_users(
	array(
		'role'    => 'administrator',
		'orderby' => 'ID',
		'number'  => 1,
	)
);
wp_set_current_user( $admins[0]->ID );
eval( $argv[2] ); // phpcs:ignore Squiz.PHP.Eval -- the point of this script.
