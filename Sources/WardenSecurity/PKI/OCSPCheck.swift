public import Foundation
import SwiftASN1
import Synchronization
public import X509

/// Asks the OCSP responders a presented chain's certificates name (their AIA `ocsp` URL) for their status, with
/// swift-certificates' `OCSPVerifierPolicy`, which builds each request, checks the answer's signature, its
/// responder and its freshness.
public struct OCSPCheck: Sendable {
    /// What the responders said of a chain.
    public enum Verdict: Sendable, Hashable {
        case good
        case revoked
        /// A responder could not be reached, did not answer in time, or did not know the certificate (only
        /// under hard-fail; soft-fail counts these as good).
        case unknown
    }

    /// Sends one DER request to a responder; nil when it could not be reached or did not answer with an OCSP
    /// response.
    public typealias Fetch = @Sendable (_ request: [UInt8], _ uri: String) async -> [UInt8]?

    let fetch: Fetch

    public init(fetch: @escaping Fetch) {
        self.fetch = fetch
    }

    /// The status of `chain` (DER, leaf first) under `root` at the current time: `revoked` when a responder
    /// said so; `unknown` when, under `hardFail`, a status could not be had (or the leaf names no responder).
    /// Under soft-fail, `good` may also mean that no responder could say.
    public func status(of chain: [[UInt8]], root: Certificate, hardFail: Bool) async -> Verdict {
        guard let leafDER = chain.first, let leaf = try? Certificate(derEncoded: leafDER) else { return .unknown }
        // The policy passes a certificate that names no responder; hard-fail means a status is required.
        let namesResponder =
            (try? leaf.extensions.authorityInformationAccess?.contains { $0.method == .ocspServer }) ?? false
        if hardFail, namesResponder != true { return .unknown }
        let intermediates = chain.dropFirst().compactMap { try? Certificate(derEncoded: $0) }
        let requester = Requester(fetch: fetch, hardFail: hardFail)
        var verifier = Verifier(rootCertificates: CertificateStore([root])) {
            RFC5280Policy()
            OCSPVerifierPolicy(failureMode: hardFail ? .hard : .soft, requester: requester)
        }
        let reasons = Reasons()
        let result = await verifier.validate(
            leaf: leaf, intermediates: CertificateStore(intermediates),
            diagnosticCallback: { reasons.append(String(describing: $0)) })
        if case .validCertificate = result { return .good }
        // The policy names a revoked answer in its reason; anything else that fails is a status not had.
        return reasons.contains("revoked through OCSP") ? .revoked : .unknown
    }

    /// The policy's transport: an unreachable responder is terminal under hard-fail (the chain fails) and
    /// non-terminal under soft-fail (the policy lets it pass).
    private struct Requester: OCSPRequester {
        let fetch: Fetch
        let hardFail: Bool

        struct Unreachable: Error {}

        func query(request: [UInt8], uri: String) async -> OCSPRequesterQueryResult {
            if let response = await fetch(request, uri) { return .response(response) }
            return hardFail ? .terminalError(Unreachable()) : .nonTerminalError(Unreachable())
        }
    }

    /// The verifier's diagnostics, collected from its callback.
    private final class Reasons: Sendable {
        private let lines = Mutex<[String]>([])

        func append(_ line: String) { lines.withLock { $0.append(line) } }
        func contains(_ text: String) -> Bool { lines.withLock { $0.contains { $0.contains(text) } } }
    }
}
