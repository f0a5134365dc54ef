/// A page of a list: `items` and, when there is more, `nextCursor` to pass as `?cursor=`.
public struct ListResource<Item: Codable & Sendable>: Codable, Sendable {
    public let items: [Item]
    public let nextCursor: String?
}
