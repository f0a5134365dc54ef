extension String {
    /// The longest prefix of at most `maximumBytes` UTF-8 bytes that ends on a whole scalar: a cut inside one
    /// would decode to a replacement character, 3 bytes long.
    public func utf8Prefix(_ maximumBytes: Int) -> String {
        guard utf8.count > maximumBytes else { return self }
        var cut = unicodeScalars.startIndex
        var bytes = 0
        for index in unicodeScalars.indices {
            let width = UTF8.width(unicodeScalars[index])
            guard bytes + width <= maximumBytes else { break }
            bytes += width
            cut = unicodeScalars.index(after: index)
        }
        return String(unicodeScalars[..<cut])
    }
}
