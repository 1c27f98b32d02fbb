// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Where gi-docgen's links to types of other namespaces point: the upstream
// references of the libraries NixExec-1.0 builds on.
baseURLs = [
  [ 'GLib', 'https://docs.gtk.org/glib/' ],
  [ 'GObject', 'https://docs.gtk.org/gobject/' ],
  [ 'Gio', 'https://docs.gtk.org/gio/' ],
  [ 'Json', 'https://gnome.pages.gitlab.gnome.org/json-glib/' ],
]
