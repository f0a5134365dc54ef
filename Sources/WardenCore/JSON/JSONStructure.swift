/// A scan of a JSON document's bytes for its nesting depth and member count, stopping at the first limit
/// passed. It does not validate the document (the parser that follows does); it only guarantees that no
/// parser is handed something deeper or larger than `JSONLimits` allow. One pass, no recursion, and memory
/// bounded by the depth limit.
public enum JSONStructure {
    /// Throws `json.too_complex` naming the limit when `bytes` nest deeper or hold more members than
    /// `limits` allow. Counting is exact for valid JSON; for invalid JSON it never undercounts brackets.
    public static func check(_ bytes: some Sequence<UInt8>, _ limits: JSONLimits) throws(WardenError) {
        var scanner = Scanner(limits: limits)
        for byte in bytes { try scanner.consume(byte) }
    }

    private struct Scanner {
        let limits: JSONLimits
        /// One entry per open container: true for an object, false for an array.
        var open: [Bool] = []
        var members = 0
        var isInString = false
        var isEscaped = false
        /// Just after `[`: the next significant byte starts the array's first element unless it is `]`.
        var awaitsFirstElement = false

        init(limits: JSONLimits) {
            self.limits = limits
            open.reserveCapacity(min(max(limits.maximumDepth, 0), 64))
        }

        mutating func consume(_ byte: UInt8) throws(WardenError) {
            if isInString {
                if isEscaped {
                    isEscaped = false
                } else if byte == UInt8(ascii: "\\") {
                    isEscaped = true
                } else if byte == UInt8(ascii: "\"") {
                    isInString = false
                }
                return
            }
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                return
            default:
                break
            }
            if awaitsFirstElement {
                awaitsFirstElement = false
                if byte != UInt8(ascii: "]") { try countMember() }
            }
            switch byte {
            case UInt8(ascii: "\""):
                isInString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                guard open.count < limits.maximumDepth else {
                    throw WardenError(
                        .jsonTooComplex, "The JSON nests deeper than \(limits.maximumDepth) levels.")
                }
                open.append(byte == UInt8(ascii: "{"))
                awaitsFirstElement = byte == UInt8(ascii: "[")
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = open.popLast()
            case UInt8(ascii: ":"):
                if open.last == true { try countMember() }
            case UInt8(ascii: ","):
                if open.last == false { try countMember() }
            default:
                break
            }
        }

        private mutating func countMember() throws(WardenError) {
            members += 1
            guard members <= limits.maximumMembers else {
                throw WardenError(
                    .jsonTooComplex, "The JSON holds more than \(limits.maximumMembers) members and elements.")
            }
        }
    }
}
