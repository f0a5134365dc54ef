public import Foundation
import Synchronization
public import WardenCore
public import WardenSecurity
import X509

/// What external CAs' OCSP responders said of presented chains, kept for a while so that a fleet reconnecting
/// at once asks each responder once per certificate, not once per connection.
public final class OCSPStatusCache: Sendable {
    private struct Entry {
        let verdict: OCSPCheck.Verdict
        let until: Date
    }

    private let check: OCSPCheck
    /// How long a `revoked` answer, or a hard-fail `good` one, is kept; anything else is asked again at the next
    /// connection.
    private let lifetime: TimeInterval
    /// Most answers kept; past it the cache starts again empty.
    private let capacity: Int
    /// Keyed by the path and the failure mode: a soft-fail verdict is not a hard-fail one.
    private let entries = Mutex<[Key: Entry]>([:])

    private struct Key: Hashable {
        let path: [CertificateSerial]
        let hardFail: Bool
    }

    public init(check: OCSPCheck, lifetime: TimeInterval, capacity: Int = 100_000) {
        self.check = check
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// Why `chain` (validated to `root`, the tenant's CA `authority`) proves nothing, by its responders; nil when
    /// they said it is good (or, soft-fail, could not say).
    func refusal(
        of chain: [[UInt8]], root: Certificate, authority: CAName, hardFail: Bool, path: [CertificateSerial], now: Date
    ) async -> WardenError? {
        let key = Key(path: path, hardFail: hardFail)
        let cached = entries.withLock { $0[key].flatMap { $0.until > now ? $0.verdict : nil } }
        let verdict: OCSPCheck.Verdict
        if let cached {
            verdict = cached
        } else {
            verdict = await check.status(of: chain, root: root, hardFail: hardFail)
            // Kept: a revoked answer, and a good one under hard-fail (where good means every responder said so).
            // A soft-fail good may mean nobody could say, so it is asked again at the next connection.
            if verdict == .revoked || (verdict == .good && hardFail) {
                entries.withLock { entries in
                    if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
                    entries[key] = Entry(verdict: verdict, until: now.addingTimeInterval(lifetime))
                }
            }
        }
        switch verdict {
        case .good:
            return nil
        case .revoked:
            return WardenError(
                .authCertificateRevoked, "CA '\(authority)''s OCSP responder says a certificate on the path is revoked."
            )
        case .unknown:
            return WardenError(
                .authRevocationUnknown,
                "CA '\(authority)' checks OCSP hard-fail and its responder gave no status for the certificate.")
        }
    }
}
