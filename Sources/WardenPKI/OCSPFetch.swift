import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1

/// The transport of OCSP checks of external CAs' certificates (RFC 6960 §A.1, HTTP POST), for `OCSPCheck`.
public enum OCSPFetch {
    /// The largest answer read, and how long a responder has to give it.
    public static let maximumResponseBytes = 65_536
    static let timeout: TimeAmount = .seconds(5)

    /// The responder's DER answer to `request`, or nil when it could not be reached, answered an HTTP error or
    /// more than `maximumResponseBytes`. The URL comes from a certificate the tenant's CA signed.
    public static func post(_ request: [UInt8], to uri: String) async -> [UInt8]? {
        guard let url = URL(string: uri), ["http", "https"].contains(url.scheme?.lowercased() ?? "") else { return nil }
        var call = HTTPClientRequest(url: uri)
        call.method = .POST
        call.headers.add(name: "Content-Type", value: "application/ocsp-request")
        call.headers.add(name: "Accept", value: "application/ocsp-response")
        call.body = .bytes(ByteBuffer(bytes: request))
        do {
            let response = try await OutboundHTTP.client.execute(call, timeout: timeout)
            guard response.status == .ok else { return nil }
            return Array(try await response.body.collect(upTo: maximumResponseBytes).readableBytesView)
        } catch {
            return nil
        }
    }
}
