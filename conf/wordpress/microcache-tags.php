<?php
/**
 * Plugin Name: microcache tags
 * Description: Tags every page nginx caches with what it shows (a Surrogate-Key header), and on each change of a post, a comment or a term purges exactly those tags, in one request to the site's own nginx (ngx_http_microcache_module).
 * Version: 1.0.0
 * License: Apache-2.0
 *
 * A must-use plugin: copy this file to wp-content/mu-plugins/ (README, "Deploying on a real
 * server"). Optional settings, in wp-config.php:
 *   MICROCACHE_PURGE_URL      where purges go; default: the site's scheme and host + /purge
 *                             (the shipped vhost's purge location, loopback only)
 *   MICROCACHE_PURGE_ADDRESS  the address to connect to; default 127.0.0.1, so the purge
 *                             reaches this machine's nginx whatever the site's name resolves
 *                             to (needs PHP's curl extension); '' to use DNS
 *
 * What a page shows, as tags (nginx records them in its cache index and hides the header):
 *   post-ID         the post's title, link or content (the main query, any loop, widgets,
 *                   adjacent-post links, sitemaps)
 *   comments-ID     the comments of post ID, or their number
 *   comment-ID      the comment itself (its author, its text)
 *   comment-list    a list of the latest comments of all posts (widgets, /comments/feed/)
 *   term-ID         the term's name or link (a post's categories and tags, term lists, the
 *                   term's archive)
 *   list-TYPE       a list of posts of TYPE by date: the home page and its pages, a post type
 *                   archive, "recent posts", the adjacent-post links of a post, sitemaps
 *                   (list-any: a list of every type)
 *   list-term-ID, list-author-ID, list-date[-YYYY[-MM[-DD]]]
 *                   the same, restricted to a term (its children included), an author, a date
 *   list-custom-TYPE a list whose members or order depend on other fields (meta, title,
 *                   modified date, comment count)
 *   list-search     search results
 *   list-taxonomy-TAX a list of the terms of TAX (the categories widget, a tag cloud)
 *   home, front, feed, 404, search  the kind of page, for purges by hand
 *   FAMILY-many     instead of a page's FAMILY-ID tags when it shows too many of them to list
 *                   within the module's limits (1000 tags, 16 KiB): purged with any of them
 *
 * What changes purge (one POST per request, its body a batch of tag: lines and paths):
 *   - a post published or withdrawn (draft, pending, private, trash, deleted), or moved in
 *     lists (its date, author, terms, slug, parent, order, sticky flag): post-ID, every list
 *     it was or is in, list-taxonomy-* of its taxonomies, and its addresses (a 404 or a
 *     redirect cached there before);
 *   - any other edit of a published post: post-ID, list-custom-*, list-search;
 *   - a comment approved, unapproved, spammed, trashed or deleted: comments-POST, comment-ID,
 *     comment-list, list-custom-*; an approved comment edited: comment-ID;
 *   - a term edited: term-ID (moved to another parent: the lists of the old and new
 *     ancestors); deleted: term-ID, its lists, list-taxonomy-TAX; created: list-taxonomy-TAX.
 * Not covered: menus, widgets' settings, options, users, themes; use Nginx Helper's "Purge
 * Entire Cache" (PURGE /purgeall) for those, or wait for the pages' cache lifetime.
 */

namespace Microcache_Tags;

defined( 'ABSPATH' ) || exit;

/** The module's limits per response: tags, and bytes of the header value. */
const MAX_TAGS  = 1000;
const MAX_BYTES = 16384;
/** The module's limit on a batch body; a larger purge becomes a purge of the whole zone. */
const MAX_BODY = 1048576;
/** Seconds: a purge that takes longer is abandoned (and logged), the edit is saved anyway. */
const TIMEOUT = 2;

/** With WordPress multisite, one zone may serve several sites: their tags must differ. */
function prefix() {
	return is_multisite() ? 'site-' . get_current_blog_id() . '-' : '';
}

/**
 * The family of a tag that ends in an id (post-12: post, list-date-2024-03: list-date), or
 * null: FAMILY-many stands in for its members on pages that show too many.
 */
function family( $tag ) {
	return preg_match( '/^(.+?)-\d[\d-]*$/', $tag, $m ) ? $m[1] : null;
}

/**
 * A Surrogate-Key value within the module's limits: while the tags are too many, the family
 * with the most bytes is replaced by FAMILY-many.
 */
function header_value( array $tags, $prefix ) {
	while ( count( $tags ) > MAX_TAGS || strlen( $prefix . implode( " $prefix", $tags ) ) > MAX_BYTES ) {
		$bytes = array();
		foreach ( $tags as $tag ) {
			$family = family( $tag );
			if ( null !== $family ) {
				$bytes[ $family ] = ( $bytes[ $family ] ?? 0 ) + strlen( $tag ) + 1;
			}
		}
		if ( ! $bytes ) {
			break;
		}
		arsort( $bytes );
		$widest = key( $bytes );
		$kept   = array();
		foreach ( $tags as $tag ) {
			if ( family( $tag ) !== $widest ) {
				$kept[] = $tag;
			}
		}
		$tags = array_values( array_unique( array_merge( $kept, array( "$widest-many" ) ) ) );
	}
	return $prefix . implode( " $prefix", $tags );
}

/** Tags of a post type's lists: '' and 'any' as WP_Query reads them. */
function type_slugs( $types ) {
	if ( '' === $types || array() === $types || null === $types ) {
		return array( 'post' );
	}
	return array_map( 'strval', (array) $types );
}

/** list-date tags of a date (Y-m-d H:i:s), from the coarsest. */
function date_tags( $date ) {
	$ymd = explode( '-', substr( $date, 0, 10 ) );
	if ( 3 !== count( $ymd ) ) {
		return array( 'list-date' );
	}
	return array(
		'list-date',
		"list-date-{$ymd[0]}",
		"list-date-{$ymd[0]}-{$ymd[1]}",
		"list-date-{$ymd[0]}-{$ymd[1]}-{$ymd[2]}",
	);
}

/**
 * The list tags of a query: the lists a post must leave or enter for its results to change.
 * A query for given posts (a single post, post__in) has none: the posts it shows are tagged.
 * A post is in the results only if it meets every condition, so the tags of one restricting
 * condition (terms, author, date, search) are enough; list-TYPE otherwise.
 */
function query_tags( \WP_Query $q ) {
	if ( $q->is_singular() || $q->get( 'post__in' ) ) {
		return array();
	}
	$tags  = array();
	$types = type_slugs( $q->get( 'post_type' ) );
	if ( $q->get( 'meta_key' ) || $q->get( 'meta_query' ) || ! ordered_by_list_fields( $q->get( 'orderby' ) ) ) {
		foreach ( $types as $type ) {
			$tags[] = "list-custom-$type";
		}
	}
	if ( '' !== (string) $q->get( 's' ) ) {
		$tags[] = 'list-search';
		return $tags;
	}
	$restricted = false;
	if ( $q->tax_query instanceof \WP_Tax_Query && $q->tax_query->queries ) {
		$restricted = term_clause_tags( $q->tax_query->queries, $tags );
	}
	$authors = array_filter( array_map( 'intval', array_merge( wp_parse_list( (string) $q->get( 'author' ) ), (array) $q->get( 'author__in' ) ) ) );
	if ( $authors && min( $authors ) > 0 ) {
		foreach ( $authors as $author ) {
			$tags[] = "list-author-$author";
		}
		$restricted = true;
	}
	$year  = (int) $q->get( 'year' );
	$month = (int) $q->get( 'monthnum' );
	$day   = (int) $q->get( 'day' );
	$m     = preg_replace( '/\D/', '', (string) $q->get( 'm' ) );
	if ( strlen( $m ) >= 4 ) {
		$year  = (int) substr( $m, 0, 4 );
		$month = strlen( $m ) >= 6 ? (int) substr( $m, 4, 2 ) : 0;
		$day   = strlen( $m ) >= 8 ? (int) substr( $m, 6, 2 ) : 0;
	}
	if ( $year && ( $month || ! $day ) && ! $q->get( 'date_query' ) && ! $q->get( 'w' ) ) {
		$tags[]     = date_tags( sprintf( '%04d-%02d-%02d', $year, $month, $day ) )[ $month ? ( $day ? 3 : 2 ) : 1 ];
		$restricted = true;
	} elseif ( $year || $month || $day || $q->get( 'date_query' ) || $q->get( 'w' ) ) {
		$tags[]     = 'list-date';
		$restricted = true;
	}
	if ( ! $restricted ) {
		foreach ( $types as $type ) {
			$tags[] = "list-$type";
		}
	}
	return $tags;
}

/** Whether a list's order depends only on fields whose changes purge lists (not title, meta...). */
function ordered_by_list_fields( $orderby ) {
	$fields = is_array( $orderby ) ? array_keys( $orderby ) : preg_split( '/[\s,]+/', (string) $orderby, -1, PREG_SPLIT_NO_EMPTY );
	$listed = array( 'date', 'post_date', 'ID', 'id', 'none', 'menu_order', 'post__in', 'parent', 'post_parent', 'author', 'post_author', 'name', 'post_name', 'type', 'post_type', 'relevance' );
	return ! array_diff( $fields, $listed );
}

/**
 * Adds list-term-ID for the terms a tax query keeps; true when every clause restricts the
 * results to terms (IN or AND of known terms).
 */
function term_clause_tags( array $clauses, array &$tags ) {
	$restricts = true;
	foreach ( $clauses as $key => $clause ) {
		if ( 'relation' === $key || ! is_array( $clause ) ) {
			continue;
		}
		if ( ! isset( $clause['taxonomy'] ) ) {
			$restricts = term_clause_tags( $clause, $tags ) && $restricts;
			continue;
		}
		$operator = strtoupper( $clause['operator'] ?? 'IN' );
		$field    = $clause['field'] ?? 'term_id';
		$terms    = (array) ( $clause['terms'] ?? array() );
		if ( ! in_array( $operator, array( 'IN', 'AND' ), true ) || ! $terms ) {
			$restricts = false;
			continue;
		}
		foreach ( $terms as $value ) {
			$term = get_term_by( 'id' === $field ? 'term_id' : $field, $value, $clause['taxonomy'] );
			if ( $term ) {
				$tags[] = "list-term-{$term->term_id}";
			} else {
				$restricts = false;
			}
		}
	}
	return $restricts;
}

/**
 * What this response shows: collected while it is rendered, sent as its Surrogate-Key header
 * once it is complete. Only anonymous GET and HEAD requests: nginx stores nothing else.
 */
final class Shown {
	/** @var array<string, true>|null tag => true; null while nothing is collected. */
	private static $tags = null;
	/** @var string the page as rendered so far, while it is held back. */
	private static $held = '';

	public static function register() {
		add_action( 'template_redirect', array( __CLASS__, 'start_page' ), 0 );
		add_filter( 'rest_pre_dispatch', array( __CLASS__, 'start_rest' ), 0, 3 );
	}

	private static function cacheable() {
		$method = $_SERVER['REQUEST_METHOD'] ?? 'GET';
		return in_array( $method, array( 'GET', 'HEAD' ), true ) && ! is_user_logged_in()
			&& ! is_admin() && ! is_preview() && ! is_customize_preview();
	}

	/**
	 * Pages and feeds: the main query's tags now, the rest while templates render. The page is
	 * held in an output buffer until the end, so the header can still be sent.
	 */
	public static function start_page() {
		global $wp_query;
		if ( null !== self::$tags || ! self::cacheable() ) {
			return;
		}
		self::collect();
		foreach ( array( 'home', 'front_page', 'feed', '404', 'search' ) as $kind ) {
			if ( call_user_func( "is_$kind" ) ) {
				self::add( 'front_page' === $kind ? 'front' : $kind );
			}
		}
		foreach ( query_tags( $wp_query ) as $tag ) {
			self::add( $tag );
		}
		foreach ( $wp_query->posts as $post ) {
			self::add( 'post-' . ( is_object( $post ) ? $post->ID : (int) $post ) );
		}
		if ( is_category() || is_tag() || is_tax() ) {
			self::add( 'term-' . get_queried_object_id() );
		}
		if ( is_comment_feed() ) {
			self::add( is_singular() ? 'comments-' . get_queried_object_id() : 'comment-list' );
		}
		ob_start( array( __CLASS__, 'hold' ) );
	}

	/**
	 * The output buffer's handler: keeps everything until the final call (an early flush()
	 * would send the headers before the tags are known), then sends the header.
	 */
	public static function hold( $buffer, $phase ) {
		if ( $phase & PHP_OUTPUT_HANDLER_CLEAN ) {
			self::$held = '';
		} else {
			self::$held .= $buffer;
		}
		if ( ! ( $phase & PHP_OUTPUT_HANDLER_FINAL ) ) {
			return '';
		}
		self::send();
		$page       = self::$held;
		self::$held = '';
		return $page;
	}

	/** The REST API (nginx caches WordPress's own public routes): tagged like pages. */
	public static function start_rest( $result, $server, $request ) {
		if ( null === self::$tags && in_array( $request->get_method(), array( 'GET', 'HEAD' ), true ) && ! is_user_logged_in() ) {
			self::collect();
			add_filter(
				'rest_prepare_comment',
				function ( $response, $comment ) {
					self::add( 'comment-' . $comment->comment_ID );
					self::add( 'comments-' . $comment->comment_post_ID );
					return $response;
				},
				10,
				2
			);
			// After the embedded responses, right before the body is echoed.
			add_filter(
				'rest_pre_echo_response',
				function ( $data ) {
					self::send();
					return $data;
				}
			);
		}
		return $result;
	}

	public static function add( $tag ) {
		if ( null !== self::$tags ) {
			self::$tags[ $tag ] = true;
		}
	}

	/** The filters that see what is shown: each adds tags and changes nothing. */
	private static function collect() {
		self::$tags = array();
		$add        = function ( $tag ) {
			return function ( $value, $id = 0 ) use ( $tag ) {
				$id = is_object( $id ) ? ( $id->ID ?? $id->term_id ?? 0 ) : (int) $id;
				if ( $id > 0 ) {
					self::add( "$tag-$id" );
				}
				return $value;
			};
		};
		add_filter( 'the_title', $add( 'post' ), 10, 2 );
		add_filter( 'page_link', $add( 'post' ), 10, 2 );
		add_filter( 'attachment_link', $add( 'post' ), 10, 2 );
		add_filter( 'post_link', $add( 'post' ), 10, 2 );
		add_filter( 'post_type_link', $add( 'post' ), 10, 2 );
		add_filter( 'term_link', $add( 'term' ), 10, 2 );
		add_filter( 'get_comments_number', $add( 'comments' ), 10, 2 );
		add_filter( 'get_comment_author', $add( 'comment' ), 10, 2 );
		add_action(
			'the_post',
			function ( $post ) {
				self::add( "post-{$post->ID}" );
			}
		);
		add_filter(
			'get_comment_text',
			function ( $text, $comment ) {
				self::add( "comment-{$comment->comment_ID}" );
				return $text;
			},
			10,
			2
		);
		// A post's terms, as pages show them (their names); the REST API lists only their ids,
		// which change with the post.
		add_filter(
			'get_the_terms',
			function ( $terms ) {
				foreach ( is_array( $terms ) && ! ( defined( 'REST_REQUEST' ) && REST_REQUEST ) ? $terms : array() as $term ) {
					self::add( "term-{$term->term_id}" );
				}
				return $terms;
			}
		);
		// Every WP_Query (posts_pre_query runs even where filters are suppressed, as in
		// get_posts() and the latest-posts block).
		add_filter(
			'posts_pre_query',
			function ( $posts, $query ) {
				foreach ( query_tags( $query ) as $tag ) {
					self::add( $tag );
				}
				return $posts;
			},
			10,
			2
		);
		add_filter(
			'comments_pre_query',
			function ( $comments, $query ) {
				$posts = array_filter( array_map( 'intval', array_merge( (array) $query->query_vars['post_id'], (array) $query->query_vars['post__in'] ) ) );
				foreach ( $posts as $post ) {
					self::add( "comments-$post" );
				}
				if ( ! $posts ) {
					self::add( 'comment-list' );
				}
				return $comments;
			},
			10,
			2
		);
		$adjacent = function ( $where, $in_same_term, $excluded, $taxonomy, $post ) {
			self::add( "list-{$post->post_type}" );
			return $where;
		};
		add_filter( 'get_previous_post_where', $adjacent, 10, 5 );
		add_filter( 'get_next_post_where', $adjacent, 10, 5 );
		add_filter(
			'getarchives_where',
			function ( $where ) {
				self::add( 'list-date' );
				return $where;
			}
		);
		add_filter(
			'get_pages',
			function ( $pages, $args ) {
				foreach ( type_slugs( $args['post_type'] ?? 'page' ) as $type ) {
					self::add( "list-$type" );
				}
				return $pages;
			},
			10,
			2
		);
		// Lists of terms; not lookups of given terms (get_term_by() goes through get_terms()).
		add_filter(
			'get_terms',
			function ( $terms, $taxonomies, $args ) {
				foreach ( array( 'include', 'slug', 'name', 'term_taxonomy_id', 'object_ids' ) as $given ) {
					if ( ! empty( $args[ $given ] ) ) {
						return $terms;
					}
				}
				foreach ( (array) $taxonomies as $taxonomy ) {
					self::add( "list-taxonomy-$taxonomy" );
				}
				return $terms;
			},
			10,
			3
		);
	}

	/** Sends the header. */
	private static function send() {
		if ( self::$tags && ! headers_sent() ) {
			header( 'Surrogate-Key: ' . header_value( array_keys( self::$tags ), prefix() ) );
		}
	}
}

/**
 * The purges of this request: what changed, gathered from WordPress's actions, turned into
 * tags at the end of the request and sent as one batch.
 */
final class Purge {
	/** @var array<string, true> batch lines: tag:NAME, /path */
	private static $lines = array();
	/** @var bool whether any change withdraws something from public view. */
	private static $hard = false;
	/** @var array<int, array> post ID => its state before this request changed it. */
	private static $before = array();
	/** @var array<int, bool> post ID => touched; true forces its lists to be purged. */
	private static $posts = array();
	/** @var array<int, int[]> term ID => its ancestors before it was edited. */
	private static $ancestors = array();

	public static function register() {
		add_action( 'pre_post_update', array( __CLASS__, 'remember_post' ) );
		add_action( 'set_object_terms', array( __CLASS__, 'remember_terms' ), 10, 6 );
		add_action( 'transition_post_status', array( __CLASS__, 'post_status' ), 10, 3 );
		add_action( 'post_stuck', array( __CLASS__, 'post_sticky' ) );
		add_action( 'post_unstuck', array( __CLASS__, 'post_sticky' ) );
		add_action( 'before_delete_post', array( __CLASS__, 'post_deleted' ) );
		add_action( 'transition_comment_status', array( __CLASS__, 'comment_status' ), 10, 3 );
		add_action( 'wp_insert_comment', array( __CLASS__, 'comment_inserted' ), 10, 2 );
		add_action( 'edit_comment', array( __CLASS__, 'comment_edited' ) );
		add_action( 'edit_terms', array( __CLASS__, 'remember_term' ), 10, 2 );
		add_action( 'pre_delete_term', array( __CLASS__, 'remember_term' ), 10, 2 );
		add_action( 'edited_term', array( __CLASS__, 'term_edited' ), 10, 3 );
		add_action( 'delete_term', array( __CLASS__, 'term_deleted' ), 10, 3 );
		add_action( 'created_term', array( __CLASS__, 'term_created' ), 10, 3 );
		add_action( 'shutdown', array( __CLASS__, 'send' ) );
	}

	/** Posts of types that have no public pages (menu items, revisions, oEmbed caches) are skipped. */
	private static function viewable( $post ) {
		return $post instanceof \WP_Post && is_post_type_viewable( $post->post_type )
			&& ! wp_is_post_revision( $post ) && ! wp_is_post_autosave( $post );
	}

	/** What decides where a post is listed and shown. */
	private static function state( \WP_Post $post, $term_ids = null ) {
		$taxonomies = get_object_taxonomies( $post->post_type );
		if ( null === $term_ids ) {
			$term_ids = $taxonomies ? wp_get_object_terms( $post->ID, $taxonomies, array( 'fields' => 'ids' ) ) : array();
		}
		$term_ids = is_wp_error( $term_ids ) ? array() : array_map( 'intval', $term_ids );
		sort( $term_ids );
		return array(
			'public'   => 'publish' === $post->post_status,
			'password' => '' !== $post->post_password,
			'type'     => $post->post_type,
			'date'     => $post->post_date,
			'author'   => (int) $post->post_author,
			'path'     => 'publish' === $post->post_status ? wp_parse_url( get_permalink( $post ), PHP_URL_PATH ) : null,
			'parent'   => (int) $post->post_parent,
			'order'    => (int) $post->menu_order,
			'terms'    => $term_ids,
			'sticky'   => is_sticky( $post->ID ),
		);
	}

	/** The tags of a post in a state; its lists too when they change. */
	private static function state_tags( $id, array $state, $lists ) {
		$tags = array( "post-$id", "list-custom-{$state['type']}", 'list-custom-any', 'list-search' );
		if ( ! $lists ) {
			return $tags;
		}
		array_push( $tags, "list-{$state['type']}", 'list-any', "list-author-{$state['author']}", ...date_tags( $state['date'] ) );
		foreach ( $state['terms'] as $term_id ) {
			$term = get_term( $term_id );
			if ( ! $term instanceof \WP_Term ) {
				continue;
			}
			$tags[] = "list-taxonomy-{$term->taxonomy}";
			foreach ( array_merge( array( $term_id ), get_ancestors( $term_id, $term->taxonomy, 'taxonomy' ) ) as $listed ) {
				$tags[] = "list-term-$listed";
			}
		}
		return $tags;
	}

	public static function remember_post( $post_id ) {
		$post = get_post( $post_id );
		if ( ! isset( self::$before[ $post_id ] ) && self::viewable( $post ) ) {
			self::$before[ $post_id ] = self::state( $post );
		}
	}

	/** Terms are set after the post is saved (by the REST API, after its save actions). */
	public static function remember_terms( $object_id, $terms, $tt_ids, $taxonomy, $append, $old_tt_ids ) {
		$post = get_post( $object_id );
		if ( ! self::viewable( $post ) ) {
			return;
		}
		$old = array();
		foreach ( $old_tt_ids as $tt_id ) {
			$term = get_term_by( 'term_taxonomy_id', $tt_id, $taxonomy );
			if ( $term ) {
				$old[] = $term->term_id;
			}
		}
		if ( ! isset( self::$before[ $object_id ] ) ) {
			$others                     = array_diff( get_object_taxonomies( $post->post_type ), array( $taxonomy ) );
			$kept                       = $others ? wp_get_object_terms( $object_id, $others, array( 'fields' => 'ids' ) ) : array();
			self::$before[ $object_id ] = self::state( $post, array_merge( is_wp_error( $kept ) ? array() : $kept, $old ) );
		}
		self::$posts[ $object_id ] = self::$posts[ $object_id ] ?? false;
	}

	public static function post_status( $new, $old, $post ) {
		if ( self::viewable( $post ) && ( 'publish' === $new || 'publish' === $old ) ) {
			self::$posts[ $post->ID ] = self::$posts[ $post->ID ] ?? false;
		}
	}

	public static function post_sticky( $post_id ) {
		self::$posts[ $post_id ] = true;
	}

	/** Deleted: its tags now, while it still exists. */
	public static function post_deleted( $post_id ) {
		$post = get_post( $post_id );
		if ( self::viewable( $post ) && 'publish' === $post->post_status ) {
			$state = self::state( $post );
			self::add( self::state_tags( $post_id, $state, true ), true );
			self::add_comments_of( $post, true, true );
			self::add_path( $state['path'] );
		}
		unset( self::$posts[ $post_id ] );
	}

	/**
	 * A post touched by this request, compared with what it was: soft when it is (still)
	 * published without a new password (the next visitors may see the old copy while one
	 * request renders the new one: no one waits for PHP after an edit), hard when it leaves
	 * public view (no visitor may see it again).
	 */
	private static function post_changed( $post_id, $force_lists ) {
		$post = get_post( $post_id );
		if ( ! self::viewable( $post ) ) {
			return;
		}
		$now    = self::state( $post );
		$before = self::$before[ $post_id ] ?? null;
		if ( ! $now['public'] && ! ( $before['public'] ?? false ) ) {
			return;
		}
		$moved = $force_lists || null === $before;
		foreach ( array( 'public', 'date', 'author', 'path', 'parent', 'order', 'terms', 'sticky' ) as $field ) {
			$moved = $moved || $before[ $field ] !== $now[ $field ];
		}
		$hard = ! $now['public'] || ( $now['password'] && ! ( $before['password'] ?? false ) );
		self::add( self::state_tags( $post_id, $now, $moved ), $hard );
		self::add_comments_of( $post, $now['public'] !== ( $before['public'] ?? false ), $hard );
		if ( $before && $moved ) {
			self::add( self::state_tags( $post_id, $before, true ), $hard );
			self::add_path( $before['path'] );
		}
		if ( $moved ) {
			self::add_path( $now['path'] );
		}
	}

	/** A post's comments appear in or leave the lists of latest comments with it. */
	private static function add_comments_of( \WP_Post $post, $shown_or_hidden, $hard ) {
		if ( $shown_or_hidden && $post->comment_count > 0 ) {
			self::add( array( 'comment-list' ), $hard );
		}
	}

	/**
	 * Comments: soft when one appears (approved), hard when one is withdrawn (unapproved,
	 * spam, trash, deleted) or edited by a moderator (spam links, abuse: gone at once).
	 */
	public static function comment_status( $new, $old, $comment ) {
		if ( 'approved' === $new || 'approved' === $old ) {
			self::comment( $comment, 'approved' !== $new );
		}
	}

	public static function comment_inserted( $id, $comment ) {
		if ( '1' === (string) $comment->comment_approved ) {
			self::comment( $comment, false );
		}
	}

	public static function comment_edited( $comment_id ) {
		if ( 'approved' === wp_get_comment_status( $comment_id ) ) {
			self::add( array( "comment-$comment_id" ), true );
		}
	}

	private static function comment( $comment, $hard ) {
		$type = get_post_type( $comment->comment_post_ID );
		self::add(
			array( "comments-{$comment->comment_post_ID}", "comment-{$comment->comment_ID}", 'comment-list', "list-custom-$type", 'list-custom-any' ),
			$hard
		);
	}

	/** Terms: soft (a name, a slug, a place in the hierarchy: nothing to withdraw at once). */
	public static function remember_term( $term_id, $taxonomy ) {
		self::$ancestors[ $term_id ] = get_ancestors( $term_id, $taxonomy, 'taxonomy' );
	}

	public static function term_edited( $term_id, $tt_id, $taxonomy ) {
		if ( ! is_taxonomy_viewable( $taxonomy ) ) {
			return;
		}
		$tags      = array( "term-$term_id" );
		$ancestors = get_ancestors( $term_id, $taxonomy, 'taxonomy' );
		$before    = self::$ancestors[ $term_id ] ?? $ancestors;
		if ( $before !== $ancestors ) {
			foreach ( array_merge( array( $term_id ), $before, $ancestors ) as $listed ) {
				$tags[] = "list-term-$listed";
			}
		}
		self::add( $tags, false );
	}

	public static function term_deleted( $term_id, $tt_id, $taxonomy ) {
		if ( ! is_taxonomy_viewable( $taxonomy ) ) {
			return;
		}
		$tags = array( "term-$term_id", "list-taxonomy-$taxonomy" );
		foreach ( array_merge( array( $term_id ), self::$ancestors[ $term_id ] ?? array() ) as $listed ) {
			$tags[] = "list-term-$listed";
		}
		self::add( $tags, false );
	}

	public static function term_created( $term_id, $tt_id, $taxonomy ) {
		if ( is_taxonomy_viewable( $taxonomy ) ) {
			self::add( array( "list-taxonomy-$taxonomy" ), false );
		}
	}

	/** Tags to purge, each with its FAMILY-many (the pages that show too many to list). */
	private static function add( array $tags, $hard ) {
		$prefix = prefix();
		foreach ( $tags as $tag ) {
			self::$lines[ "tag:$prefix$tag" ] = true;
			$family                           = family( $tag );
			if ( null !== $family ) {
				self::$lines[ "tag:$prefix$family-many" ] = true;
			}
		}
		self::$hard = self::$hard || $hard;
	}

	/** A page's address: a 404 or a redirect cached there before it was published. */
	private static function add_path( $path ) {
		if ( is_string( $path ) && '' !== $path && '/' === $path[0] ) {
			self::$lines[ $path ] = true;
		}
	}

	/** The end of the request: one batch purge for everything it changed. */
	public static function send() {
		foreach ( self::$posts as $post_id => $force_lists ) {
			self::post_changed( $post_id, $force_lists );
		}
		self::$posts = array();
		if ( ! self::$lines ) {
			return;
		}
		$body        = implode( "\n", array_keys( self::$lines ) ) . "\n";
		self::$lines = array();
		if ( strlen( $body ) > MAX_BODY ) {
			$body       = "*\n";
			self::$hard = true;
		}
		$mode = self::$hard ? 'hard' : 'soft';
		$home = wp_parse_url( home_url() );
		$url  = defined( 'MICROCACHE_PURGE_URL' ) ? MICROCACHE_PURGE_URL
			: $home['scheme'] . '://' . $home['host'] . ( isset( $home['port'] ) ? ':' . $home['port'] : '' ) . '/purge';
		$address = defined( 'MICROCACHE_PURGE_ADDRESS' ) ? MICROCACHE_PURGE_ADDRESS : '127.0.0.1';
		$target  = wp_parse_url( $url );
		$port    = $target['port'] ?? ( 'https' === $target['scheme'] ? 443 : 80 );
		// To this machine's nginx: the site's name and certificate, the loopback address.
		$pin      = function ( $handle, $args, $to ) use ( $url, $address, $target, $port ) {
			if ( $to === $url && '' !== $address ) {
				curl_setopt( $handle, CURLOPT_RESOLVE, array( "{$target['host']}:$port:$address" ) );
			}
		};
		$no_proxy = function ( $through, $to ) use ( $url ) {
			return $to === $url ? false : $through;
		};
		add_action( 'http_api_curl', $pin, 10, 3 );
		add_filter( 'pre_http_send_through_proxy', $no_proxy, 10, 2 );
		$response = wp_remote_post(
			$url,
			array(
				'timeout'     => TIMEOUT,
				'redirection' => 0,
				// A pinned loopback connection reaches this machine whatever the certificate
				// says; checking it would only make purges fail with a staging certificate.
				'sslverify'   => '' === $address,
				'headers'     => array(
					'Content-Type'          => 'text/plain',
					'Microcache-Purge-Mode' => $mode,
				),
				'body'        => $body,
			)
		);
		remove_action( 'http_api_curl', $pin, 10 );
		remove_filter( 'pre_http_send_through_proxy', $no_proxy, 10 );
		// 200: purged; 404: nothing was cached. Anything else is logged, the change stays saved.
		$status = wp_remote_retrieve_response_code( $response );
		if ( is_wp_error( $response ) || ( 200 !== $status && 404 !== $status ) ) {
			$why = is_wp_error( $response ) ? $response->get_error_message()
				: "$status " . substr( wp_remote_retrieve_body( $response ), 0, 200 );
			error_log( "microcache-tags: $mode purge of " . substr_count( $body, "\n" ) . " targets at $url failed: $why" ); // phpcs:ignore WordPress.PHP.DevelopmentFunctions
		}
		self::$hard = false;
	}
}

Shown::register();
Purge::register();
