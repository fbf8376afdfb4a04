//! Strings numbered in order of first appearance: the dictionary of a low-cardinality
//! column (provider, level) and the message templates of a frame. A string seen before
//! costs a lookup by `&str`; one is allocated (twice: key and list) only the first time.

use rustc_hash::FxHashMap as HashMap;

#[derive(Debug, Default)]
pub(crate) struct Strings {
    ids: HashMap<String, u32>,
    list: Vec<String>,
}

impl Strings {
    /// `s`'s number, given it if it is new.
    pub(crate) fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.list.len() as u32;
        self.ids.insert(s.to_owned(), id);
        self.list.push(s.to_owned());
        id
    }

    /// The string numbered `id`.
    pub(crate) fn get(&self, id: u32) -> Option<&str> {
        self.list.get(id as usize).map(String::as_str)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The strings in number order.
    pub(crate) fn into_vec(self) -> Vec<String> {
        self.list
    }
}
