public import Foundation

/// Orders the retained messages of one topic across the nodes of a cluster, last writer wins: when (microseconds
/// since 1970 by the publishing node's `RetainClock`) and, for a tie, which node. Every node keeps the message
/// with the greatest stamp, and so does the store, so the nodes agree whatever order the messages reach them in.
/// A clear keeps its stamp too, so that an older message arriving after it does not come back.
public struct RetainStamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let time: Int64
    public let node: UUID

    public init(time: Int64, node: UUID) {
        self.time = time
        self.node = node
    }

    /// The node's identity as stored and compared: its 16 bytes (the store compares them as bytes too).
    public var nodeBytes: [UInt8] { withUnsafeBytes(of: node.uuid) { Array($0) } }

    /// What a message stored before stamps existed carries: older than every stamp.
    public static let unstamped = RetainStamp(time: 0, node: .zero)

    /// How far ahead of a node's clock another node's stamp may be (microseconds, a day): further is a broken
    /// clock or a damaged message, refused rather than followed.
    public static let maximumLead: Int64 = 86_400_000_000

    public static func < (lhs: RetainStamp, rhs: RetainStamp) -> Bool {
        if lhs.time != rhs.time { return lhs.time < rhs.time }
        return lhs.nodeBytes.lexicographicallyPrecedes(rhs.nodeBytes)
    }

    public var description: String { "\(time)@\(node)" }
}

extension UUID {
    /// The all-zero identity: a node alone, before it joins a cluster.
    public static let zero = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
}

/// A node's clock for `RetainStamp`s (a hybrid logical clock): the wall clock, but never behind a stamp the node
/// has issued or seen. A message published here after another node's message reached it is then stamped later,
/// even when this node's wall clock is behind the other's.
public struct RetainClock: Sendable {
    private var last: Int64 = 0

    public init() {}

    /// The time for a stamp issued now: after every time issued or seen.
    public mutating func next(now: Date) -> Int64 {
        // A time at the top of the range (a broken clock elsewhere) stays there rather than wrapping.
        last = max(now.unixMicroseconds, last == .max ? .max : last + 1)
        return last
    }

    /// Takes in another node's or the store's time.
    public mutating func observe(_ time: Int64) {
        last = max(last, time)
    }
}
