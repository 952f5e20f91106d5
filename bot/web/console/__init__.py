"""The console's pages for staff and leads: overview, decisions, approvals and hand-offs, knowledge, autonomy and
the audit trail. Each module declares its `pages` (bot/web/pages.py); what they show comes from bot/console/."""
