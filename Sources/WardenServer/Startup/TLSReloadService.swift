import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the TLS certificate and key on SIGHUP (issue 3): new MQTT and HTTPS connections get the new
/// certificate, live ones keep theirs. A reload that fails keeps the old certificate and says why.
struct TLSReloadService: Service {
    let reload: @Sendable () throws -> Void
    let logger: Logger

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            do {
                try reload()
                logger.info("Reloaded the TLS certificate.")
            } catch {
                logger.error(
                    "Cannot reload the TLS certificate; keeping the one in use.", metadata: ["error": "\(error)"])
            }
        }
    }
}
