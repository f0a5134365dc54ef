import WardenCore
import Yams

/// A policy document written in YAML, read into the JSON value the document reader checks, with the line each
/// field starts on, so that a refusal names the line as well as the field.
///
/// Hostile input is bounded: libyaml stops at 1,000 levels of nesting while parsing, and the walk here refuses
/// anything deeper than the reader's limit and counts every member it visits, so aliases that repeat a large
/// node (a "billion laughs") stop at the same member budget as JSON does.
enum PolicyYAML {
    static func read(_ text: String, limits: JSONLimits) throws(PolicyError) -> (value: JSONValue, lines: [String: Int])
    {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw PolicyError("the YAML does not parse: \(error)")
        }
        guard let root else { return (.object([:]), [:]) }
        var walk = Walk(limits: limits)
        let value = try walk.convert(root, path: "document", depth: 1)
        return (value, walk.lines)
    }

    private struct Walk {
        let limits: JSONLimits
        var members = 0
        var lines: [String: Int] = [:]

        init(limits: JSONLimits) {
            self.limits = limits
        }

        mutating func convert(_ node: Node, path: String, depth: Int) throws(PolicyError) -> JSONValue {
            if let line = node.mark?.line { lines[path] = line }
            switch node {
            case .scalar(let scalar):
                return Self.scalar(scalar, node)
            case .sequence(let sequence):
                try enter(depth, path)
                var elements: [JSONValue] = []
                for (index, element) in sequence.enumerated() {
                    try count(path)
                    elements.append(try convert(element, path: "\(path)[\(index)]", depth: depth + 1))
                }
                return .array(elements)
            case .mapping(let mapping):
                try enter(depth, path)
                var members: [String: JSONValue] = [:]
                for (key, value) in mapping {
                    try count(path)
                    guard case .scalar(let name) = key else { throw PolicyError("\(path): keys are plain text") }
                    let child = path == "document" ? name.string : "\(path).\(name.string)"
                    guard members[name.string] == nil else { throw PolicyError("\(child): given twice") }
                    members[name.string] = try convert(value, path: child, depth: depth + 1)
                }
                return .object(members)
            case .alias:
                // Yams replaces aliases by the nodes they name while composing; one left over names nothing.
                throw PolicyError("\(path): an alias that names no node")
            }
        }

        private func enter(_ depth: Int, _ path: String) throws(PolicyError) {
            guard depth <= limits.maximumDepth else {
                throw PolicyError("\(path): nested deeper than \(limits.maximumDepth) levels")
            }
        }

        private mutating func count(_ path: String) throws(PolicyError) {
            members += 1
            guard members <= limits.maximumMembers else {
                throw PolicyError("\(path): more than \(limits.maximumMembers) members in the document")
            }
        }

        /// A scalar as YAML's core schema reads it: null, a boolean, an integer, a float, else text. Numbers are
        /// parsed here with Swift's own total parsers, never with Yams' constructors: those trap on overflow
        /// (a sexagesimal `5555555555555554:23:9` stopped the process; PolicyDocumentFuzzer found it).
        private static func scalar(_ scalar: Node.Scalar, _ node: Node) -> JSONValue {
            let text = scalar.string
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: return .null
            case .bool: return node.bool.map(JSONValue.bool) ?? .string(text)
            // total: parses text: nil unless a decimal integer in range.
            case .int: return Int(text).map(JSONValue.number) ?? .string(text)
            case .float: return Double(text).map(JSONValue.double) ?? .string(text)
            default: return .string(text)
            }
        }
    }
}
