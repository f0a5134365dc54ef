import Synchronization

/// What a connection's client certificate chain proved during the TLS handshake, handed from the
/// verification callback to the connection handler.
final class PresentedChain: Sendable {
    private let validation = Mutex<ConnectAuthenticator.ChainValidation?>(nil)

    func record(_ result: ConnectAuthenticator.ChainValidation?) {
        validation.withLock { $0 = result }
    }

    var result: ConnectAuthenticator.ChainValidation? { validation.withLock { $0 } }
}
