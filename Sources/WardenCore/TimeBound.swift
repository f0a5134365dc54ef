public import Foundation

/// A time given in a query: ISO 8601 (`2026-11-29T19:00:00Z`, fractions allowed) or an age before now
/// (`90s`, `15m`, `2h`, `7d`).
public enum TimeBound {
    /// Unix milliseconds for `text` at `now`; `request.invalid_query` naming `name` when it is neither form.
    public static func milliseconds(_ text: String, name: String, now: Date) throws(WardenError) -> Int64 {
        if !text.contains("T"), let age = DurationText.seconds(text),
            let milliseconds = Int64(exactly: ((now.timeIntervalSince1970 - age) * 1000).rounded(.down))
        {
            return milliseconds
        }
        for style in [Date.ISO8601FormatStyle(), Date.ISO8601FormatStyle(includingFractionalSeconds: true)] {
            if let date = try? Date(text, strategy: style),
                let milliseconds = Int64(exactly: (date.timeIntervalSince1970 * 1000).rounded(.down))
            {
                return milliseconds
            }
        }
        throw WardenError(
            .requestInvalidQuery,
            "'\(name)' must be an ISO 8601 time (2026-11-29T19:00:00Z) or an age such as 15m, 2h, 7d.")
    }
}
