/// Durations as people type them: whole seconds, or a number with `s`, `m`, `h` or `d` (`90s`, `15m`, `2h`,
/// `7d`). The API's time ranges and the CLI's `--ttl` read the same forms.
public enum DurationText {
    /// The longest duration any form may name: 100 years. Callers turn the seconds into milliseconds and
    /// subtract them from now, which stays far inside `Int64` only because of this bound.
    public static let maximumSeconds: Double = 100 * 365.25 * 86_400

    /// The seconds `text` stands for; nil when it is not one of the forms, negative, not finite (`inf`,
    /// `nan`, `1e300d`) or longer than `maximumSeconds`.
    public static func seconds(_ text: String) -> Double? {
        guard let seconds = unbounded(text), seconds.isFinite, (0...maximumSeconds).contains(seconds) else {
            return nil
        }
        return seconds
    }

    private static func unbounded(_ text: String) -> Double? {
        if let plain = Double(text) { return plain }
        guard let unit = text.last, let value = Double(text.dropLast()) else { return nil }
        switch unit {
        case "s": return value
        case "m": return value * 60
        case "h": return value * 3600
        case "d": return value * 86_400
        default: return nil
        }
    }
}
