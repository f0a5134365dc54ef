import Testing

@testable import WardenCluster

/// Requests waiting for other nodes' answers: "not here" answers end a wait together, once as many came as nodes
/// are counted, and a recount that finds more nodes keeps it waiting for them.
struct PendingRepliesTests {
    @Test func partialAnswersEndTheWaitOnlyOnceEveryCountedNodeSaidSo() async throws {
        let pending = PendingReplies<Int?>()
        let ids = AsyncStream<UInt64>.makeStream()
        async let answer = pending.request(
            timeout: .seconds(30), expectedPartials: 1, unsent: .success(nil), expired: { .success(-1) },
            send: { id in
                ids.continuation.yield(id)
                return true
            })
        var iterator = ids.stream.makeAsyncIterator()
        let id = try #require(await iterator.next())
        #expect(pending.partialAnswer(id))
        // A recount found a second node: its answer is awaited.
        #expect(!pending.expectPartials(id, atLeast: 2))
        #expect(pending.partialAnswer(id))
        #expect(pending.expectPartials(id, atLeast: 2))
        pending.finish(id, .success(7))
        #expect(try await answer == 7)
        #expect(!pending.expectPartials(id, atLeast: 1), "over: nothing to finish")
    }
}
