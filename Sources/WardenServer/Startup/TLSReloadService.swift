import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the TLS certificate and key on SIGHUP (issue 3), and (issue 15) every `renewalCheck` while the
/// development CA issues the server's certificate, which `TLSMaterial` re-issues when it has less than 30 days
/// left: new MQTT and HTTPS connections get the new certificate, live ones keep theirs. A reload that fails keeps
/// the old certificate and says why.
struct TLSReloadService: Service {
    /// Loads the material and swaps it in when it changed; true when it did.
    let reload: @Sendable () throws -> Bool
    /// How often the development certificate's expiry is looked at; nil when an operator's certificate is
    /// served (it is renewed by replacing the files and sending SIGHUP).
    let renewalCheck: Duration?
    let logger: Logger

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
                    attempt(because: "SIGHUP")
                }
            }
            if let renewalCheck {
                // Ends when the signal loop ends (graceful shutdown) and the group cancels it.
                group.addTask {
                    while (try? await Task.sleep(for: renewalCheck)) != nil {
                        attempt(because: "renewal check")
                    }
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    private func attempt(because cause: String) {
        do {
            if try reload() {
                logger.info("Loaded a new TLS certificate.", metadata: ["cause": "\(cause)"])
            } else if cause == "SIGHUP" {
                logger.info("Reloaded the TLS certificate; it is unchanged.")
            }
        } catch {
            logger.error("Cannot reload the TLS certificate; keeping the one in use.", metadata: ["error": "\(error)"])
        }
    }
}
