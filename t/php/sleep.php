<?php
// Waits ?ms= milliseconds (at most 3000), so a test can let a cache entry expire between two
// requests of one block.
usleep(min((int)($_GET['ms'] ?? 0), 3000) * 1000);
header('Content-Type: text/plain');
echo "slept\n";
