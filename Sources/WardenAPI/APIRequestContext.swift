public import Hummingbird
import NIOCore
public import WardenCore

/// Per-request state: Hummingbird's core storage plus the authenticated principal.
public struct APIRequestContext: RequestContext {
    /// The largest request body accepted (bigger ones get 413 `request.body_too_large`).
    public static let maximumBodyBytes = 64 * 1024

    public var coreContext: CoreRequestContextStorage
    /// Who made the request; set by `BearerAuthMiddleware`, nil on public routes.
    public var principal: Principal? {
        didSet { audit.set { $0.principal = principal } }
    }
    /// What the audit record of this request will say beyond the route and the outcome; shared by reference
    /// so that the audit middleware, outside the others, sees what they learned.
    public let audit = AuditNote()

    /// The client's IP address, for device authentication records.
    public let peerAddress: IPAddress
    /// The connection, to find what its TLS handshake recorded (`PresentedCertificates`).
    let channel: any Channel

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.peerAddress = source.channel.remoteAddress?.ipAddress.flatMap(IPAddress.init) ?? .unspecified
        self.channel = source.channel
    }

    public var maxUploadSize: Int { Self.maximumBodyBytes }
}
