/// Durations as people type them: whole seconds, or a number with `s`, `m`, `h` or `d` (`90s`, `15m`, `2h`,
/// `7d`). The API's time ranges and the CLI's `--ttl` read the same forms.
public enum DurationText {
    /// The seconds `text` stands for; nil when it is not one of the forms or negative.
    public static func seconds(_ text: String) -> Double? {
        if let plain = Double(text) { return plain >= 0 ? plain : nil }
        guard let unit = text.last, let value = Double(text.dropLast()), value >= 0 else { return nil }
        switch unit {
        case "s": return value
        case "m": return value * 60
        case "h": return value * 3600
        case "d": return value * 86_400
        default: return nil
        }
    }
}
