/// ISO 8601 UTC timestamps with milliseconds (`2026-11-29T19:03:27.123Z`) from Unix milliseconds, without
/// Foundation's formatters: the telemetry path stamps every message and a formatter costs microseconds.
public enum UTCTimestamp {
    /// Formats Unix milliseconds; years outside 0…9999 are clamped to that range.
    public static func string(milliseconds: Int64) -> String {
        let clamped = min(max(milliseconds, -62_167_219_200_000), 253_402_300_799_999)
        let (days, dayMilliseconds) = floorDivide(clamped, 86_400_000)
        let (year, month, day) = civil(daysSinceEpoch: days)
        let seconds = dayMilliseconds / 1000
        var text = [UInt8]()
        text.reserveCapacity(24)
        append(year, digits: 4, to: &text)
        text.append(UInt8(ascii: "-"))
        append(month, digits: 2, to: &text)
        text.append(UInt8(ascii: "-"))
        append(day, digits: 2, to: &text)
        text.append(UInt8(ascii: "T"))
        append(seconds / 3600, digits: 2, to: &text)
        text.append(UInt8(ascii: ":"))
        append(seconds / 60 % 60, digits: 2, to: &text)
        text.append(UInt8(ascii: ":"))
        append(seconds % 60, digits: 2, to: &text)
        text.append(UInt8(ascii: "."))
        append(dayMilliseconds % 1000, digits: 3, to: &text)
        text.append(UInt8(ascii: "Z"))
        return String(decoding: text, as: UTF8.self)
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
        let quotient = value / divisor
        let remainder = value % divisor
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }

    /// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `civil_from_days`).
    private static func civil(daysSinceEpoch: Int64) -> (Int64, Int64, Int64) {
        let shifted = daysSinceEpoch + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func append(_ value: Int64, digits: Int, to text: inout [UInt8]) {
        var divisor: Int64 = 1
        for _ in 1..<digits { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            // total: one decimal digit, 0...9.
            text.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }
}
