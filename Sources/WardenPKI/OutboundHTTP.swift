public import AsyncHTTPClient

/// The one HTTP client for requests to URLs tenants give (CRL distribution points, OCSP responders, allocation
/// webhooks): it follows no redirect, so an address that passed a check cannot bounce the hub somewhere else
/// (an internal service, a cloud metadata endpoint). It lives as long as the process.
public enum OutboundHTTP {
    public static let client = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))
}
