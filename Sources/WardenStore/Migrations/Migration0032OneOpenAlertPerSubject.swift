import GRDB

/// At most one alert not yet resolved per rule and subject, held by the database: nodes of a cluster whose
/// rules fire in the same moment count into one alert instead of each inserting their own (issue 18). Of the
/// duplicates an older version let in, the latest seen stays; the others are resolved, as if by hand.
enum Migration0032OneOpenAlertPerSubject: StoreMigration {
    static let identifier = "0032-one-open-alert-per-subject"

    static let postgres = [
        """
        UPDATE alerts SET status = 'resolved', changed_by = 'warden:0032-one-open-alert-per-subject',
        changed_at = last_seen
        WHERE status <> 'resolved' AND EXISTS (
            SELECT 1 FROM alerts AS later WHERE later.rule = alerts.rule AND later.subject = alerts.subject
            AND later.status <> 'resolved' AND (later.last_seen, later.id) > (alerts.last_seen, alerts.id))
        """,
        """
        CREATE UNIQUE INDEX alerts_unresolved ON alerts (rule, subject) WHERE status <> 'resolved'
        """,
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                UPDATE alerts SET status = 'resolved', changed_by = 'warden:0032-one-open-alert-per-subject',
                changed_at = last_seen
                WHERE status <> 'resolved' AND EXISTS (
                    SELECT 1 FROM alerts AS later WHERE later.rule = alerts.rule AND later.subject = alerts.subject
                    AND later.status <> 'resolved' AND (later.last_seen, later.id) > (alerts.last_seen, alerts.id));
                CREATE UNIQUE INDEX alerts_unresolved ON alerts (rule, subject) WHERE status <> 'resolved';
                """)
    }
}
