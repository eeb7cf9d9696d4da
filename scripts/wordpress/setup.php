<?php
/**
 * Installs WordPress and writes the content checks look at, as a site owner would in the
 * dashboard; prints the site as JSON (scripts/wordpress/run.sh keeps it as site.json).
 *
 *   php setup.php DOCUMENT_ROOT ADMIN_PASSWORD
 *
 * The content: a "News" category with six posts, three posts per page (so the home page and
 * the category have a second page), the default "Hello world!" post with its comment, and the
 * Twenty Twenty-One theme, whose footer shows the recent posts and comments on every page.
 * Two of the news posts are the ones checks edit: "subject" (an ASCII slug) and "cyrillic"
 * (a slug WordPress percent-encodes in lower case).
 */

if ( 3 !== $argc ) {
	fwrite( STDERR, "usage: php setup.php DOCUMENT_ROOT ADMIN_PASSWORD\n" );
	exit( 2 );
}
define( 'WP_INSTALLING', true );
$_SERVER['HTTP_HOST']   = 'example.com';
$_SERVER['REQUEST_URI'] = '/';
require $argv[1] . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';

$installed = wp_install( 'microcache check', 'admin', 'admin@example.com', 1, '', $argv[2] );
$admin_id  = (int) $installed['user_id'];
wp_set_current_user( $admin_id );

switch_theme( 'twentytwentyone' );
update_option( 'posts_per_page', 3 );
update_option( 'timezone_string', 'UTC' );
update_option( 'permalink_structure', '/%postname%/' );
$wp_rewrite->set_permalink_structure( '/%postname%/' );
// Taxonomies were registered while permalinks were off: again, for /category/<slug>/ links.
create_initial_taxonomies();
$wp_rewrite->flush_rules( false );

$news = wp_insert_term( 'News', 'category', array( 'slug' => 'news' ) );
if ( is_wp_error( $news ) ) {
	fwrite( STDERR, $news->get_error_message() . "\n" );
	exit( 1 );
}
$news_id = (int) $news['term_id'];

// Oldest first; the newest is "subject", right after the default post.
$posts = array(
	'news-1'   => array( 'News one', 9 ),
	'news-2'   => array( 'News two', 8 ),
	'news-3'   => array( 'News three', 7 ),
	'news-4'   => array( 'News four', 6 ),
	'cyrillic' => array( 'Привет мир rev-0', 2, 'привет-мир' ),
	'subject'  => array( 'Subject post rev-0', 1, 'subject-post' ),
);
$site = array(
	'admin'    => array(
		'id'       => $admin_id,
		'login'    => 'admin',
		'password' => $argv[2],
	),
	'category' => array(
		'id'   => $news_id,
		'url'  => get_category_link( $news_id ),
	),
	'posts'    => array(),
);
foreach ( $posts as $key => $post ) {
	list( $title, $hours_ago ) = $post;
	$date = gmdate( 'Y-m-d H:i:s', time() - $hours_ago * 3600 );
	$id   = wp_insert_post(
		array(
			'post_title'    => $title,
			'post_name'     => $post[2] ?? $key,
			'post_content'  => "<p>The body of $key, rev-0.</p>",
			'post_status'   => 'publish',
			'post_author'   => $admin_id,
			'post_category' => array( $news_id ),
			'post_date'     => $date,
			'post_date_gmt' => $date,
		),
		true
	);
	if ( is_wp_error( $id ) ) {
		fwrite( STDERR, $id->get_error_message() . "\n" );
		exit( 1 );
	}
	$site['posts'][ $key ] = array(
		'id'  => $id,
		'url' => get_permalink( $id ),
	);
}

// REST API access for checks that act through the API as the owner (HTTPS only).
list( $app_password ) = WP_Application_Passwords::create_new_application_password( $admin_id, array( 'name' => 'checks' ) );
$site['admin']['application_password'] = $app_password;

echo wp_json_encode( $site, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE ), "\n";
