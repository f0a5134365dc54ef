import WardenCore

/// A query parameter a route reads besides `limit` and `cursor`, declared with the route so that the OpenAPI
/// document describes exactly what the handler accepts (and schemathesis generates it).
struct QueryParameter: Sendable {
    let name: String
    let schema: JSONValue
    let description: String

    /// `from` and `to`: an ISO 8601 time or an age before now (`TimeBound`), at most 100 years.
    static let timeBounds: [QueryParameter] = ["from", "to"].map { name in
        QueryParameter(
            name: name,
            schema: [
                "type": "string", "maxLength": 64,
                "examples": ["15m", "2h", "7d", "2026-11-29T19:00:00Z", "2026-11-29T19:00:00.123+01:00"],
            ],
            description: "An ISO 8601 time, or an age before now: seconds, or a number with s, m, h or d.")
    }

    /// The audit log's filters besides time.
    static let auditFilters: [QueryParameter] =
        [
            QueryParameter(name: "actor", schema: ["type": "string"], description: "Only records by this actor."),
            QueryParameter(name: "action", schema: ["type": "string"], description: "Only this action (operation id)."),
            QueryParameter(
                name: "reference", schema: ["type": "string"],
                description: "Only the record with this reference id (as a client or a log line was told)."),
            QueryParameter(
                name: "outcome", schema: ["type": "string", "enum": ["success", "denied", "failure"]],
                description: "Only this outcome."),
        ] + timeBounds
}
