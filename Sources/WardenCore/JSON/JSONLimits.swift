/// Limits on the structure of a JSON document, checked on its bytes before a parser builds any value:
/// a size limit alone lets 64 KiB of `[` nest 65,536 deep, and each level costs the parser (and every
/// recursive function after it) a stack frame.
public struct JSONLimits: Sendable, Equatable {
    /// How deep objects and arrays may nest; the outermost value is level 1.
    public var maximumDepth: Int
    /// Object members plus array elements in the whole document.
    public var maximumMembers: Int

    public init(maximumDepth: Int, maximumMembers: Int) {
        self.maximumDepth = maximumDepth
        self.maximumMembers = maximumMembers
    }

    /// Management API bodies (at most 64 KiB): far deeper and larger than any of their documented shapes.
    public static let requestBody = JSONLimits(maximumDepth: 32, maximumMembers: 10_000)
    /// A twin patch: a section object holding properties nested at most 10 levels (IoT Hub's documented
    /// depth), and at most 2,000 members, more than 32 KiB of properties can usefully hold.
    public static let twinPatch = JSONLimits(maximumDepth: 11, maximumMembers: 2_000)
    /// Direct-method payloads (at most 128 KiB) in either direction.
    public static let methodPayload = JSONLimits(maximumDepth: 32, maximumMembers: 20_000)
}
