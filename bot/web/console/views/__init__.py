"""What each console page shows, read through the packages that own it (no web code here): the digest's
figures and chart, decisions and their `supportbot explain` chain, pending approvals and hand-offs, knowledge,
autonomy and the audit trail. Changes go through the same services as Slack and Teams clicks."""
