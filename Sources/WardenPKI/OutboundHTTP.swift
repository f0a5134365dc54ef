public import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// The one HTTP client for requests to URLs tenants give (CRL distribution points, OCSP responders, allocation
/// webhooks): it follows no redirect, so an address that passed a check cannot bounce the hub somewhere else
/// (an internal service, a cloud metadata endpoint). It lives as long as the process.
public enum OutboundHTTP {
    public static let client = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))

    /// POSTs `body` with `headers` to `url` (10 s); the HTTP status, or nil when it could not be reached.
    public static func post(_ url: String, headers: [(String, String)], body: [UInt8]) async -> Int? {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        // total: an HTTP status code is at most three digits.
        return try? await Int(client.execute(request, timeout: .seconds(10)).status.code)
    }
}
