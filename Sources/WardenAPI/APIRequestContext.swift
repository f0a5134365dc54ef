public import Hummingbird
public import WardenCore

/// Per-request state: Hummingbird's core storage plus the authenticated principal.
public struct APIRequestContext: RequestContext {
    /// The largest request body accepted (bigger ones get 413 `request.body_too_large`).
    public static let maximumBodyBytes = 64 * 1024

    public var coreContext: CoreRequestContextStorage
    /// Who made the request; set by `BearerAuthMiddleware`, nil on public routes.
    public var principal: Principal?

    public init(source: Source) {
        self.coreContext = .init(source: source)
    }

    public var maxUploadSize: Int { Self.maximumBodyBytes }
}
