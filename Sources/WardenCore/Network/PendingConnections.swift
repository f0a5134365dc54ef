import Synchronization

/// Counts connections that have not yet shown who they are (no TLS handshake, request or CONNECT completed),
/// per source address and in total, and refuses new ones beyond the limits: a peer that opens connections
/// and never speaks then holds a bounded number of file descriptors, however many addresses it has.
public final class PendingConnections: Sendable {
    /// The limits; a connection over either is closed at once.
    public struct Limits: Sendable, Equatable {
        public var perAddress: Int
        public var total: Int

        public init(perAddress: Int, total: Int) {
            self.perAddress = perAddress
            self.total = total
        }
    }

    /// Why a connection was refused, for the caller's metric.
    public enum Refusal: String, Sendable {
        case perAddress = "pending_per_ip"
        case total = "pending_total"
    }

    private struct State {
        var byAddress: [IPAddress: Int] = [:]
        var total = 0
    }

    public let limits: Limits
    private let state = Mutex(State())

    public init(limits: Limits) {
        self.limits = limits
    }

    /// Counts a new connection from `address`, or says which limit refuses it. Every admitted connection
    /// must be released exactly once.
    public func admit(_ address: IPAddress) -> Refusal? {
        state.withLock { state in
            let current = state.byAddress[address, default: 0]
            if current >= limits.perAddress { return .perAddress }
            if state.total >= limits.total { return .total }
            state.byAddress[address] = current + 1
            state.total += 1
            return nil
        }
    }

    /// The connection from `address` finished its first exchange or closed.
    public func release(_ address: IPAddress) {
        state.withLock { state in
            guard let current = state.byAddress[address] else { return }
            state.byAddress[address] = current > 1 ? current - 1 : nil
            state.total -= 1
        }
    }

    /// Connections counted now (for metrics and tests).
    public var count: Int { state.withLock { $0.total } }
}
