import NIOCore
import WardenMQTT

/// The messages a tenant's topic space routed in the last moments, so that a subscription installed just after
/// one of them still receives it when its SUBSCRIBE was read no more than `window` later than the PUBLISH.
///
/// Two connections are read by different event loops, and which loop's thread the kernel runs first decides
/// whether a SUBSCRIBE sent on one connection just before a PUBLISH on another reaches the topic space first.
/// A single-threaded broker reads them in the order they arrived; request/response clients rely on that order
/// (docs/architecture.md, "Order across connections"). Bounded by the bytes the entries keep alive: a payload is a
/// slice of its connection's read buffer, so the whole buffer counts, with the topic and the properties. Older
/// entries leave as newer ones come or when a subscription reads past them; an entry outside the window is never
/// offered.
struct RecentMessages: Sendable {
    struct Entry: Sendable {
        let message: BrokerMessage
        /// When the PUBLISH was read.
        let readAt: NIODeadline
        let bytes: Int
    }

    private var entries = CircularBuffer<Entry>()
    private var bytes = 0

    /// Keeps `message`, read at `readAt`, forgetting what fell out of `window` or does not fit in `byteLimit`.
    mutating func remember(_ message: BrokerMessage, readAt: NIODeadline, window: TimeAmount, byteLimit: Int) {
        let size = Self.bytesKept(by: message)
        let kept = size <= byteLimit
        while let first = entries.first,
            first.readAt < readAt - window || (kept && bytes + size > byteLimit)
        {
            bytes -= first.bytes
            entries.removeFirst()
        }
        guard kept else { return }
        entries.append(Entry(message: message, readAt: readAt, bytes: size))
        bytes += size
    }

    /// The messages read at or after `deadline`, oldest first; forgets those read before `stale`.
    mutating func read(since deadline: NIODeadline, forgetting stale: NIODeadline) -> [BrokerMessage] {
        while let first = entries.first, first.readAt < stale {
            bytes -= first.bytes
            entries.removeFirst()
        }
        return entries.compactMap { $0.readAt >= deadline ? $0.message : nil }
    }

    /// What keeping `message` keeps alive: its payload's whole buffer and its topic, and for its properties the
    /// buffer's size again (they were decoded from the same packet, which that buffer held).
    static func bytesKept(by message: BrokerMessage) -> Int {
        let buffer = message.payload.storageCapacity
        return buffer + message.topic.utf8.count + (message.properties.isEmpty ? 0 : buffer)
    }
}
