import Synchronization
import WardenAuthentication

/// What a connection's client certificate chain proved during the TLS handshake, handed from the
/// verification callback to the connection handler.
final class PresentedChain: Sendable {
    private let validation = Mutex<ChainValidation?>(nil)

    func record(_ result: ChainValidation?) {
        validation.withLock { $0 = result }
    }

    var result: ChainValidation? { validation.withLock { $0 } }
}
