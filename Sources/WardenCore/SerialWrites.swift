/// Runs writes one at a time, in arrival order.
///
/// A write commits and then updates an in-memory view (or publishes its event); running writes one by one
/// keeps those updates in commit order, so that the view can never end on an older state than the database.
/// The registry and the access service use it: operator actions, rare enough that serializing them costs
/// nothing measurable.
public actor SerialWrites {
    private var tail: Task<Void, Never>?

    public init() {}

    public func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let previous = tail
        let task = Task {
            await previous?.value
            return try await body()
        }
        tail = Task { _ = try? await task.value }
        return try await task.value
    }
}
