<?php
/**
 * Test-only (scripts/wordpress/check-nginx-helper.sh): makes is_plugin_active() and the rest of
 * wp-admin/includes/plugin.php available on the front end, where the Nginx Helper plugin's
 * current source calls it without loading it.
 */
require_once ABSPATH . 'wp-admin/includes/plugin.php';
