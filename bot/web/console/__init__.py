"""The console's pages for staff and leads: overview, decisions, approvals and hand-offs, knowledge, autonomy and
the audit trail. A new page is one folder's work: its module here declares its `pages` (bot/web/pages.py) and
joins CONSOLE_PAGES in pages.py, its template goes in templates/console/, and what it shows is read in views/."""
