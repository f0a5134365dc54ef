import Testing
import WardenCore
import WardenSecurity

struct AESGCMSealerTests {
    let sealer = AESGCMSealer(masterKey: .generate())
    let secret = SecretBytes(Array("the device key".utf8))

    @Test func roundTrips() throws {
        let sealed = try sealer.seal(secret, context: "device-key:default/d/primary")
        #expect(try sealer.open(sealed, context: "device-key:default/d/primary").bytes == secret.bytes)
    }

    @Test func sealedFormHidesThePlaintext() throws {
        let sealed = try sealer.seal(secret, context: "c")
        #expect(sealed.count == 1 + 8 + 12 + secret.bytes.count + 16)
        #expect(!String(decoding: sealed, as: UTF8.self).contains("device key"))
        #expect(try sealer.seal(secret, context: "c") != sealed)  // fresh nonce each time
    }

    @Test(arguments: [0, 1, 9, 20, 25, 40])
    func anyFlippedByteIsDetected(_ index: Int) throws {
        var sealed = try sealer.seal(secret, context: "c")
        sealed[index % sealed.count] ^= 0x01
        #expect(throws: WardenError(.sealingFailed, "")) { try sealer.open(sealed, context: "c") }
    }

    @Test func contextIsBound() throws {
        let sealed = try sealer.seal(secret, context: "device-key:default/a/primary")
        #expect(throws: WardenError(.sealingFailed, "")) {
            try sealer.open(sealed, context: "device-key:default/b/primary")
        }
    }

    @Test func otherMasterKeyIsNamed() throws {
        let sealed = try sealer.seal(secret, context: "c")
        #expect {
            try AESGCMSealer(masterKey: .generate()).open(sealed, context: "c")
        } throws: { ($0 as? WardenError)?.reason.contains("different master key") == true }
    }

    @Test func masterKeyParsesOnlyThirtyTwoBytes() throws {
        let key = MasterKey.generate()
        #expect(try MasterKey(base64: key.base64 + "\n").identifier == key.identifier)
        #expect(throws: WardenError(.masterKeyInvalid, "")) { try MasterKey(base64: "c2hvcnQ=") }
        #expect("\(key)" == "<redacted>")
    }
}
