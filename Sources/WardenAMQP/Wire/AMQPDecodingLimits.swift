/// The limits the decoder enforces on values from a peer; every one is a parameter.
public struct AMQPDecodingLimits: Sendable, Hashable {
    /// How deep lists, maps, arrays and described values may nest (a performative is 3 deep; an annotated
    /// message's properties a few more).
    public var maximumDepth: Int
    /// The most elements one list, map (keys and values counted) or array may hold. An array of `null`,
    /// `true` or `uint0` takes no byte per element, so its count alone says nothing about its size.
    public var maximumElements: Int

    public init(maximumDepth: Int = 32, maximumElements: Int = 4096) {
        self.maximumDepth = maximumDepth
        self.maximumElements = maximumElements
    }
}
