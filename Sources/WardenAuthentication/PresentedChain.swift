import Synchronization

/// The client certificate chain a connection presented in its TLS handshake (DER, leaf first) and, once checked,
/// what it proved against the tenants' verified CAs. The listener's verification callback records it; the
/// connection's handler reads it. A WebSocket connection gets the chain of the HTTPS connection it upgraded.
public final class PresentedChain: Sendable {
    private let state = Mutex<(certificates: [[UInt8]], validation: ChainValidation?)>(([], nil))

    public init() {}

    /// What the handshake presented; empty when no certificate was.
    public var certificates: [[UInt8]] { state.withLock { $0.certificates } }

    /// The client's own certificate, if it presented one.
    public var leaf: [UInt8]? { certificates.first }

    /// What the chain proved when it was checked (nil before, and for a chain no tenant's CA issued).
    public var validation: ChainValidation? { state.withLock { $0.validation } }

    public func record(_ certificates: [[UInt8]]) {
        state.withLock { $0.certificates = certificates }
    }

    public func record(validation: ChainValidation?) {
        state.withLock { $0.validation = validation }
    }
}
