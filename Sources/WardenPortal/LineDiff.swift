/// Two texts compared line by line, for the differences between policy versions: the longest run of common
/// lines kept, the rest removed or added. Bounded: past `maximumCells` compared pairs the middle is shown as
/// removed then added, not computed.
enum LineDiff {
    enum Line: Equatable {
        case same(String)
        case removed(String)
        case added(String)
    }

    /// The most line pairs compared (the table's cells) after the common start and end are set aside.
    static let maximumCells = 4_000_000

    static func lines(from old: String, to new: String) -> [Line] {
        let before = old.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let after = new.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var prefix = 0
        while prefix < before.count, prefix < after.count, before[prefix] == after[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < before.count - prefix, suffix < after.count - prefix,
            before[before.count - 1 - suffix] == after[after.count - 1 - suffix]
        {
            suffix += 1
        }
        let removed = Array(before[prefix..<(before.count - suffix)])
        let added = Array(after[prefix..<(after.count - suffix)])
        return before[..<prefix].map(Line.same) + middle(removed, added)
            + before[(before.count - suffix)...].map(Line.same)
    }

    /// The lines between the common start and end: a longest common subsequence when the table is small enough.
    private static func middle(_ removed: [String], _ added: [String]) -> [Line] {
        guard !removed.isEmpty, !added.isEmpty, removed.count * added.count <= maximumCells else {
            return removed.map(Line.removed) + added.map(Line.added)
        }
        let width = added.count + 1
        // common[i * width + j]: the longest common run of removed[i...] and added[j...].
        var common = [Int32](repeating: 0, count: (removed.count + 1) * width)
        for i in removed.indices.reversed() {
            for j in added.indices.reversed() {
                common[i * width + j] =
                    removed[i] == added[j]
                    ? common[(i + 1) * width + j + 1] + 1 : max(common[(i + 1) * width + j], common[i * width + j + 1])
            }
        }
        var (i, j) = (0, 0)
        var lines: [Line] = []
        while i < removed.count, j < added.count {
            if removed[i] == added[j] {
                lines.append(.same(removed[i]))
                (i, j) = (i + 1, j + 1)
            } else if common[(i + 1) * width + j] >= common[i * width + j + 1] {
                lines.append(.removed(removed[i]))
                i += 1
            } else {
                lines.append(.added(added[j]))
                j += 1
            }
        }
        return lines + removed[i...].map(Line.removed) + added[j...].map(Line.added)
    }
}
