/// Runs registry writes one at a time, in arrival order.
///
/// A write commits and then publishes its event; running writes one by one keeps publication in commit order,
/// so that the directory can never end on an older state than the database. Registry writes are operator
/// actions, rare enough that serializing them costs nothing measurable.
actor SerialWrites {
    private var tail: Task<Void, Never>?

    func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let previous = tail
        let task = Task {
            await previous?.value
            return try await body()
        }
        tail = Task { _ = try? await task.value }
        return try await task.value
    }
}
