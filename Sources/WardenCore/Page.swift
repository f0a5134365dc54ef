/// One page of a list and the cursor for the next one (nil: this was the last page).
public struct Page<Item: Sendable>: Sendable {
    /// The items, in key order.
    public let items: [Item]
    /// The key after which the next page starts.
    public let nextCursor: String?

    /// Makes a page.
    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }
}
