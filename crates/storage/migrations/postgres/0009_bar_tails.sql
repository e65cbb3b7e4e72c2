-- SQLite only (see ../sqlite/0009_bar_tails.sql): there, the newest block of each bar
-- series moves to a table of its own so that a live feed's commits rewrite a few
-- densely packed pages instead of one page per series. PostgreSQL writes new row
-- versions instead of rewriting pages in place and keeps every block in `bar_blocks`;
-- this file keeps the two folders numbered alike. Never edit once applied.
SELECT 1;
