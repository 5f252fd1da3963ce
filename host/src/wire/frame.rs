//! WebSocket framing (RFC 6455) for the server side: frames the server
//! sends are encoded once into their final bytes, which are the same for
//! every browser (server frames are not masked); frames browsers send are
//! decoded from a buffer that holds nothing while the browser is silent.
//!
//! No extension is negotiated, so every reserved bit must be clear.

use bytes::Bytes;

/// Longest header of a server frame: 2 bytes and an 8-byte length.
const MAX_HEADER: usize = 10;
/// Longest header of a client frame: a server frame's and the mask.
const MAX_CLIENT_HEADER: usize = MAX_HEADER + 4;
/// Control frames carry at most this much (RFC 6455, 5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;
/// How much one read asks the kernel for.
const READ_CHUNK: usize = 4 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Opcode {
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

impl Opcode {
    fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }

    fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

/// Close status codes the server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseCode {
    Normal = 1000,
    Away = 1001,
    Protocol = 1002,
    Invalid = 1007,
    Policy = 1008,
    Size = 1009,
}

/// An encoded text frame holding `text`.
pub fn text(text: &str) -> Bytes {
    encode(Opcode::Text, text.as_bytes())
}

/// An encoded text frame whose payload `write` appends to the buffer it is
/// given: the payload is written in place, never copied into a frame.
pub fn text_with(write: impl FnOnce(&mut Vec<u8>)) -> Bytes {
    let mut buf = Vec::with_capacity(256);
    buf.resize(MAX_HEADER, 0);
    write(&mut buf);
    let payload = buf.len() - MAX_HEADER;
    let header = header(Opcode::Text, payload);
    let start = MAX_HEADER - header.len();
    buf[start..MAX_HEADER].copy_from_slice(&header);
    Bytes::from(buf).slice(start..)
}

/// A close frame with `code` and a short `reason`.
pub fn close(code: u16, reason: &str) -> Bytes {
    let reason = &reason.as_bytes()[..reason.len().min(MAX_CONTROL_PAYLOAD - 2)];
    let mut payload = Vec::with_capacity(2 + reason.len());
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(reason);
    encode(Opcode::Close, &payload)
}

/// A frame of any kind holding `payload`.
pub fn encode(opcode: Opcode, payload: &[u8]) -> Bytes {
    let header = header(opcode, payload.len());
    let mut buf = Vec::with_capacity(header.len() + payload.len());
    buf.extend_from_slice(&header);
    buf.extend_from_slice(payload);
    Bytes::from(buf)
}

/// The header of an unmasked, final frame.
fn header(opcode: Opcode, len: usize) -> HeaderBytes {
    let mut header = HeaderBytes::default();
    header.push(0x80 | opcode as u8);
    if len < 126 {
        header.push(len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        header.push(126);
        header.extend(&len.to_be_bytes());
    } else {
        header.push(127);
        header.extend(&(len as u64).to_be_bytes());
    }
    header
}

#[derive(Default)]
struct HeaderBytes {
    bytes: [u8; MAX_HEADER],
    len: usize,
}

impl HeaderBytes {
    fn push(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    fn extend(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.push(byte);
        }
    }
}

impl std::ops::Deref for HeaderBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// A whole message or control frame from a browser.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong,
    /// The browser is closing, with its status code if it gave one.
    Close(Option<u16>),
}

/// Why a browser's bytes cannot be read on: each is answered with a close
/// frame carrying [`FrameError::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("message over {0} bytes")]
    TooBig(usize),
    #[error("text that is not UTF-8")]
    NotUtf8,
    #[error("{0}")]
    Protocol(&'static str),
}

impl FrameError {
    pub fn code(self) -> CloseCode {
        match self {
            Self::TooBig(_) => CloseCode::Size,
            Self::NotUtf8 => CloseCode::Invalid,
            Self::Protocol(_) => CloseCode::Protocol,
        }
    }

    /// The reason sent in the close frame.
    pub fn reason(self) -> &'static str {
        match self {
            Self::TooBig(_) => "message too big",
            Self::NotUtf8 => "text is not UTF-8",
            Self::Protocol(reason) => reason,
        }
    }
}

/// Decodes a browser's frames. Holds at most one message (`max` bytes) and
/// one read beyond it; holds no memory at all between messages.
#[derive(Debug)]
pub struct FrameReader {
    buf: Vec<u8>,
    /// A fragmented message being put together: its kind and payload.
    partial: Option<(Opcode, Vec<u8>)>,
    max: usize,
}

impl FrameReader {
    /// A reader for messages of at most `max` bytes, starting with bytes
    /// that arrived before the WebSocket began (after the HTTP request).
    pub fn new(max: usize, early: &[u8]) -> Self {
        Self {
            buf: early.to_vec(),
            partial: None,
            max,
        }
    }

    /// Reads what `read` gives into the buffer, through a chunk on the
    /// stack: a read that finds nothing leaves no buffer behind. Then call
    /// [`FrameReader::next_message`] until it has nothing more.
    pub fn read_from(
        &mut self,
        read: impl FnOnce(&mut [u8]) -> std::io::Result<usize>,
    ) -> std::io::Result<usize> {
        let mut chunk = [0u8; READ_CHUNK];
        let n = read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// The next complete message or control frame, `None` when more bytes
    /// are needed (and the buffer is given back when it is empty).
    pub fn next_message(&mut self) -> Result<Option<Incoming>, FrameError> {
        loop {
            let Some(frame) = self.parse_header()? else {
                if self.buf.is_empty() {
                    self.buf = Vec::new();
                }
                return Ok(None);
            };
            let end = frame.offset + frame.len;
            let mut payload = self.buf[frame.offset..end].to_vec();
            self.buf.drain(..end);
            unmask(&mut payload, frame.mask);
            if let Some(message) = self.assemble(frame.opcode, frame.fin, payload)? {
                return Ok(Some(message));
            }
        }
    }

    /// The header of the frame at the front of the buffer, once its whole
    /// payload is there.
    fn parse_header(&self) -> Result<Option<FrameHeader>, FrameError> {
        let buf = &self.buf;
        if buf.len() < 2 {
            return Ok(None);
        }
        let (b0, b1) = (buf[0], buf[1]);
        if b0 & 0x70 != 0 {
            return Err(FrameError::Protocol("reserved bits set"));
        }
        let opcode = Opcode::from_bits(b0 & 0x0F).ok_or(FrameError::Protocol("unknown opcode"))?;
        let fin = b0 & 0x80 != 0;
        if b1 & 0x80 == 0 {
            return Err(FrameError::Protocol("unmasked client frame"));
        }
        let (len, mut offset) = match b1 & 0x7F {
            126 => {
                let Some(bytes) = buf.get(2..4) else {
                    return Ok(None);
                };
                (u64::from(u16::from_be_bytes([bytes[0], bytes[1]])), 4)
            }
            127 => {
                let Some(bytes) = buf.get(2..10) else {
                    return Ok(None);
                };
                let len = u64::from_be_bytes(bytes.try_into().unwrap_or([0xFF; 8]));
                if len >> 63 != 0 {
                    return Err(FrameError::Protocol("frame length out of range"));
                }
                (len, 10)
            }
            len => (u64::from(len), 2),
        };
        if opcode.is_control() && (!fin || len > MAX_CONTROL_PAYLOAD as u64) {
            return Err(FrameError::Protocol("fragmented or long control frame"));
        }
        let so_far = self.partial.as_ref().map_or(0, |(_, p)| p.len() as u64);
        if !opcode.is_control() && so_far + len > self.max as u64 {
            return Err(FrameError::TooBig(self.max));
        }
        let Some(mask) = buf.get(offset..offset + 4) else {
            return Ok(None);
        };
        let mask = [mask[0], mask[1], mask[2], mask[3]];
        offset += 4;
        debug_assert!(offset <= MAX_CLIENT_HEADER);
        let len = len as usize;
        if buf.len() < offset + len {
            return Ok(None);
        }
        Ok(Some(FrameHeader {
            opcode,
            fin,
            mask,
            offset,
            len,
        }))
    }

    /// Joins fragments; a whole message or control frame comes out.
    fn assemble(
        &mut self,
        opcode: Opcode,
        fin: bool,
        payload: Vec<u8>,
    ) -> Result<Option<Incoming>, FrameError> {
        let (kind, payload) = match opcode {
            Opcode::Close => return close_frame(&payload).map(Some),
            Opcode::Ping => return Ok(Some(Incoming::Ping(payload))),
            Opcode::Pong => return Ok(Some(Incoming::Pong)),
            Opcode::Continuation => {
                let Some((kind, mut so_far)) = self.partial.take() else {
                    return Err(FrameError::Protocol("continuation of nothing"));
                };
                so_far.extend_from_slice(&payload);
                if !fin {
                    self.partial = Some((kind, so_far));
                    return Ok(None);
                }
                (kind, so_far)
            }
            Opcode::Text | Opcode::Binary => {
                if self.partial.is_some() {
                    return Err(FrameError::Protocol("new message inside a fragmented one"));
                }
                if !fin {
                    self.partial = Some((opcode, payload));
                    return Ok(None);
                }
                (opcode, payload)
            }
        };
        Ok(Some(match kind {
            Opcode::Text => {
                Incoming::Text(String::from_utf8(payload).map_err(|_| FrameError::NotUtf8)?)
            }
            _ => Incoming::Binary(payload),
        }))
    }
}

struct FrameHeader {
    opcode: Opcode,
    fin: bool,
    mask: [u8; 4],
    /// Where the payload starts.
    offset: usize,
    len: usize,
}

fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i & 3];
    }
}

fn close_frame(payload: &[u8]) -> Result<Incoming, FrameError> {
    match payload {
        [] => Ok(Incoming::Close(None)),
        [_] => Err(FrameError::Protocol("close frame of one byte")),
        [high, low, reason @ ..] => {
            let code = u16::from_be_bytes([*high, *low]);
            let valid = matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999);
            if !valid {
                return Err(FrameError::Protocol("invalid close code"));
            }
            if std::str::from_utf8(reason).is_err() {
                return Err(FrameError::NotUtf8);
            }
            Ok(Incoming::Close(Some(code)))
        }
    }
}

/// A decoded server frame, for tests that read what the server sent.
#[cfg(test)]
pub fn decode_server_frame(buf: &[u8]) -> Option<(Opcode, Vec<u8>, usize)> {
    let (b0, b1) = (*buf.first()?, *buf.get(1)?);
    let (len, offset) = match b1 & 0x7F {
        126 => (
            usize::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?)),
            4,
        ),
        127 => (
            u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        len => (usize::from(len), 2),
    };
    let payload = buf.get(offset..offset + len)?.to_vec();
    Some((Opcode::from_bits(b0 & 0x0F)?, payload, offset + len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A client frame as a browser would send it.
    fn client_frame(b0: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut out = vec![b0];
        match payload.len() {
            len @ 0..=125 => out.push(0x80 | len as u8),
            len @ 126..=65535 => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        out
    }

    fn read_all(reader: &mut FrameReader, bytes: &[u8]) -> Result<Vec<Incoming>, FrameError> {
        reader.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(message) = reader.next_message()? {
            out.push(message);
        }
        Ok(out)
    }

    #[test]
    fn encodes_each_length_form() {
        for (len, header) in [(5usize, 2usize), (126, 4), (65_535, 4), (65_536, 10)] {
            let payload = "a".repeat(len);
            let frame = text(&payload);
            assert_eq!(frame.len(), header + len);
            let (opcode, decoded, used) = decode_server_frame(&frame).unwrap();
            assert_eq!(
                (opcode, decoded.len(), used),
                (Opcode::Text, len, frame.len())
            );
            let written = text_with(|buf| buf.extend_from_slice(payload.as_bytes()));
            assert_eq!(written, frame, "in-place encoding is the same frame");
        }
    }

    #[test]
    fn close_frames_carry_code_and_clipped_reason() {
        let frame = close(1008, &"x".repeat(300));
        let (opcode, payload, _) = decode_server_frame(&frame).unwrap();
        assert_eq!(opcode, Opcode::Close);
        assert_eq!(payload.len(), MAX_CONTROL_PAYLOAD);
        assert_eq!(&payload[..2], &1008u16.to_be_bytes());
    }

    #[test]
    fn reassembles_fragments_around_control_frames() {
        let mut reader = FrameReader::new(1024, &[]);
        let mut bytes = client_frame(0x01, b"hel", [1, 2, 3, 4]);
        bytes.extend(client_frame(0x89, b"ping", [9, 9, 9, 9]));
        bytes.extend(client_frame(0x80, b"lo", [5, 6, 7, 8]));
        let out = read_all(&mut reader, &bytes).unwrap();
        assert_eq!(
            out,
            vec![
                Incoming::Ping(b"ping".to_vec()),
                Incoming::Text("hello".into())
            ]
        );
        assert_eq!(reader.buf.capacity(), 0, "nothing held between messages");
    }

    #[test]
    fn refuses_what_a_browser_must_not_send() {
        let cases: Vec<(Vec<u8>, FrameError)> = vec![
            (
                vec![0x81, 0x05, b'h', b'e', b'l', b'l', b'o'],
                FrameError::Protocol("unmasked client frame"),
            ),
            (
                client_frame(0xC1, b"x", [0; 4]),
                FrameError::Protocol("reserved bits set"),
            ),
            (
                client_frame(0x83, b"x", [0; 4]),
                FrameError::Protocol("unknown opcode"),
            ),
            (
                client_frame(0x80, b"x", [0; 4]),
                FrameError::Protocol("continuation of nothing"),
            ),
            (
                client_frame(0x09, b"x", [0; 4]),
                FrameError::Protocol("fragmented or long control frame"),
            ),
            (
                client_frame(0x89, &[0; 126], [0; 4]),
                FrameError::Protocol("fragmented or long control frame"),
            ),
            (
                client_frame(0x81, &[0xFF, 0xFE], [1, 2, 3, 4]),
                FrameError::NotUtf8,
            ),
            (
                client_frame(0x88, &[3], [0; 4]),
                FrameError::Protocol("close frame of one byte"),
            ),
            (
                client_frame(0x88, &999u16.to_be_bytes(), [0; 4]),
                FrameError::Protocol("invalid close code"),
            ),
            (
                [
                    client_frame(0x01, b"a", [0; 4]),
                    client_frame(0x81, b"b", [0; 4]),
                ]
                .concat(),
                FrameError::Protocol("new message inside a fragmented one"),
            ),
            (
                vec![0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0],
                FrameError::Protocol("frame length out of range"),
            ),
        ];
        for (bytes, expected) in cases {
            let mut reader = FrameReader::new(1024, &[]);
            assert_eq!(read_all(&mut reader, &bytes), Err(expected), "{bytes:?}");
        }
    }

    #[test]
    fn a_message_over_the_cap_is_refused_from_its_header() {
        let mut reader = FrameReader::new(100, &[]);
        let frame = client_frame(0x82, &[0; 101], [0; 4]);
        assert_eq!(
            read_all(&mut reader, &frame[..8]),
            Err(FrameError::TooBig(100))
        );
        let mut reader = FrameReader::new(100, &[]);
        let mut fragments = client_frame(0x02, &[0; 60], [0; 4]);
        fragments.extend(client_frame(0x80, &[0; 41], [0; 4]));
        assert_eq!(
            read_all(&mut reader, &fragments),
            Err(FrameError::TooBig(100))
        );
        let mut reader = FrameReader::new(100, &[]);
        let at_cap = client_frame(0x82, &[7; 100], [0; 4]);
        assert_eq!(
            read_all(&mut reader, &at_cap),
            Ok(vec![Incoming::Binary(vec![7; 100])])
        );
    }

    #[test]
    fn close_frames_with_and_without_a_code() {
        let mut reader = FrameReader::new(100, &[]);
        let mut bytes = client_frame(0x88, &[], [1, 1, 1, 1]);
        bytes.extend(client_frame(0x88, &[0x03, 0xE8, b'o', b'k'], [2, 2, 2, 2]));
        bytes.extend(client_frame(0x8A, b"", [0; 4]));
        assert_eq!(
            read_all(&mut reader, &bytes).unwrap(),
            vec![
                Incoming::Close(None),
                Incoming::Close(Some(1000)),
                Incoming::Pong
            ]
        );
    }

    proptest! {
        /// Any split of any sequence of valid frames decodes to the same
        /// messages: reads end wherever TCP says.
        #[test]
        fn decodes_whatever_the_read_boundaries(
            messages in proptest::collection::vec("[a-z\u{e9}\u{1F600}]{0,300}", 1..6),
            mask in any::<[u8; 4]>(),
            cuts in proptest::collection::vec(1usize..400, 0..12),
        ) {
            let bytes: Vec<u8> = messages
                .iter()
                .flat_map(|m| client_frame(0x81, m.as_bytes(), mask))
                .collect();
            let mut reader = FrameReader::new(4096, &[]);
            let mut out = Vec::new();
            let mut rest = &bytes[..];
            for cut in cuts {
                let (now, later) = rest.split_at(cut.min(rest.len()));
                out.extend(read_all(&mut reader, now).unwrap());
                rest = later;
            }
            out.extend(read_all(&mut reader, rest).unwrap());
            let expected: Vec<Incoming> =
                messages.into_iter().map(Incoming::Text).collect();
            prop_assert_eq!(out, expected);
        }

        /// Arbitrary bytes never panic the reader and never make it hold
        /// more than a message and a read.
        #[test]
        fn arbitrary_bytes_are_refused_or_read(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let mut reader = FrameReader::new(256, &[]);
            let _ = read_all(&mut reader, &bytes);
            prop_assert!(reader.buf.len() <= 256 + MAX_CLIENT_HEADER + 2000);
        }
    }
}
