import Testing

@testable import WardenPortal

/// The portal's comparison of policy versions: common lines kept, the rest removed or added, in order.
struct LineDiffTests {
    @Test func keepsTheLongestCommonRun() {
        let lines = LineDiff.lines(from: "a\nb\nc\nd", to: "a\nc\nd\ne")
        #expect(lines == [.same("a"), .removed("b"), .same("c"), .same("d"), .added("e")])
    }

    @Test func changesInTheMiddleKeepTheCommonStartAndEnd() {
        let lines = LineDiff.lines(from: "{\n  \"x\": 1,\n  \"y\": 2\n}", to: "{\n  \"x\": 3,\n  \"y\": 2\n}")
        #expect(lines == [.same("{"), .removed("  \"x\": 1,"), .added("  \"x\": 3,"), .same("  \"y\": 2"), .same("}")])
    }

    @Test func identicalAndEmptyTexts() {
        #expect(LineDiff.lines(from: "a\nb", to: "a\nb") == [.same("a"), .same("b")])
        #expect(LineDiff.lines(from: "", to: "a") == [.removed(""), .added("a")])
    }

    @Test func aTableTooLargeIsShownAsRemovedThenAdded() {
        let count = 2_001  // 2,001 × 2,001 lines: over the limit
        let old = (0..<count).map { "old \($0)" }.joined(separator: "\n")
        let new = (0..<count).map { "new \($0)" }.joined(separator: "\n")
        let lines = LineDiff.lines(from: old, to: new)
        #expect(lines.count == 2 * count)
        #expect(lines.first == .removed("old 0") && lines.last == .added("new 2000"))
    }
}
