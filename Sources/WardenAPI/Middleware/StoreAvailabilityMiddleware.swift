public import Hummingbird
import WardenCore

/// Refuses a change (any method but GET and HEAD) with 503 `store.unavailable` while the store cannot write
/// (a full disk, an I/O error): the change would either fail or be made without the audit record that must
/// follow it, and its answer would wait until the disk has room again. Reads keep working. The writers clear
/// the condition themselves once a write succeeds.
public struct StoreAvailabilityMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext

    let canWrite: @Sendable () -> Bool

    /// Makes the middleware; `canWrite` says whether every writer's last write succeeded.
    public init(canWrite: @escaping @Sendable () -> Bool) {
        self.canWrite = canWrite
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if request.method != .get, request.method != .head, !canWrite() {
            throw WardenError(
                .storeUnavailable,
                "The store cannot write now (is the disk full?); nothing was changed. Try again later.")
        }
        return try await next(request, context)
    }
}
